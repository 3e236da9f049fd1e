// Coffer's sealing page: seals Secret values in the browser, with Web Crypto,
// to the controller's certificate, in exactly the format coffer-crypto (and
// Bitnami's kubeseal) writes. The only request this page makes is GET
// v1/cert.pem; no value, key name or manifest leaves the page.
//
//   sealed = u16_be(len(rsa)) ‖ rsa ‖ AES-256-GCM(session key, nonce = 12 zero bytes, value) ‖ tag
//   rsa    = RSA-OAEP(SHA-256, MGF1-SHA-256, label = scope label)(session key)
//
// A fresh 32-byte session key per value is why the all-zero nonce is safe.
'use strict';

(() => {
  // The largest value sealed (as coffer-crypto's MAX_PLAINTEXT_LEN): 1 MiB,
  // a Kubernetes Secret's size limit.
  const MAX_VALUE = 1 << 20;
  // A Secret altogether cannot exceed it either; past it the API server
  // would refuse the Secret the controller writes.
  const MAX_TOTAL = 1 << 20;
  // Keys per Secret, and the largest certificate or manifest text read.
  const MAX_KEYS = 256;
  const MAX_PEM = 64 << 10;
  const MAX_MANIFEST = 3 << 20; // base64 of 1 MiB plus room for the rest
  const NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide';
  const CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide';
  // Fields the API server owns: dropped from a pasted manifest, as
  // coffer-sealed's strip_server_fields drops them.
  const SERVER_FIELDS = ['uid', 'resourceVersion', 'selfLink', 'generation', 'creationTimestamp',
    'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'ownerReferences'];
  const LAST_APPLIED = ['kubectl.kubernetes.io/last-applied-configuration',
    'kubecfg.ksonnet.io/last-applied-configuration'];

  class InputError extends Error {}
  const fail = (message) => { throw new InputError(message); };

  // ---- bytes and base64 ----
  const utf8 = new TextEncoder();
  function toBase64(bytes) {
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(text);
  }
  function fromBase64(text, what) {
    const clean = text.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
      fail(`${what} is not valid base64`);
    }
    const raw = atob(clean);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

  // ---- the certificate: PEM, then a minimal DER walk ----
  function der(bytes, pos, limit) {
    if (pos + 2 > limit) fail('the certificate is truncated');
    const tag = bytes[pos];
    let len = bytes[pos + 1];
    let header = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 4 || pos + 2 + n > limit) fail('the certificate has a bad DER length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + bytes[pos + 2 + i];
      header += n;
    }
    const end = pos + header + len;
    if (end > limit) fail('the certificate is truncated');
    return { tag, start: pos, body: pos + header, end };
  }
  function expect(el, tag, what) {
    if (el.tag !== tag) fail(`the certificate is malformed (${what})`);
    return el;
  }
  function derTime(bytes, el) {
    const text = String.fromCharCode.apply(null, bytes.subarray(el.body, el.end));
    let m;
    if (el.tag === 0x17 && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
      const yy = Number(m[1]);
      m[1] = String(yy < 50 ? 2000 + yy : 1900 + yy); // RFC 5280 4.1.2.5.1
    } else if (el.tag !== 0x18 || !(m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
      fail('the certificate has a validity time in an unknown form');
    }
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
    return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  }

  // Reads the first certificate of `pem`: its SubjectPublicKeyInfo (DER),
  // validity, the RSA-OAEP key and the fingerprint coffer prints (SHA-256
  // of the SubjectPublicKeyInfo, lowercase hex).
  async function readCertificate(pem) {
    if (pem.length > MAX_PEM) fail(`the certificate is larger than ${MAX_PEM} bytes`);
    const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
    if (!m) fail('no PEM certificate (-----BEGIN CERTIFICATE-----) found');
    const bytes = fromBase64(m[1], 'the certificate');
    const cert = expect(der(bytes, 0, bytes.length), 0x30, 'Certificate');
    const tbs = expect(der(bytes, cert.body, cert.end), 0x30, 'TBSCertificate');
    let el = der(bytes, tbs.body, tbs.end);
    if (el.tag === 0xa0) el = der(bytes, el.end, tbs.end); // [0] version
    expect(el, 0x02, 'serialNumber');
    const sigAlg = expect(der(bytes, el.end, tbs.end), 0x30, 'signature');
    const issuer = expect(der(bytes, sigAlg.end, tbs.end), 0x30, 'issuer');
    const validity = expect(der(bytes, issuer.end, tbs.end), 0x30, 'validity');
    const notBefore = der(bytes, validity.body, validity.end);
    const notAfter = der(bytes, notBefore.end, validity.end);
    const subject = expect(der(bytes, validity.end, tbs.end), 0x30, 'subject');
    const spki = expect(der(bytes, subject.end, tbs.end), 0x30, 'subjectPublicKeyInfo');
    const spkiDer = bytes.slice(spki.start, spki.end);
    let key;
    try {
      key = await crypto.subtle.importKey('spki', spkiDer, { name: 'RSA-OAEP', hash: 'SHA-256' },
        false, ['encrypt']);
    } catch (e) {
      fail('the certificate does not hold an RSA public key');
    }
    const fingerprint = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', spkiDer)));
    return {
      key, fingerprint,
      notBefore: derTime(bytes, notBefore),
      notAfter: derTime(bytes, notAfter),
      bits: key.algorithm.modulusLength,
    };
  }

  // As coffer-crypto's Certificate::from_pem: an expired certificate is refused.
  function ensureNotExpired(cert, now) {
    if (now > cert.notAfter) {
      fail(`the certificate (public key ${cert.fingerprint}) expired at ` +
        `${cert.notAfter.toISOString().replace('.000Z', 'Z')}; fetch the controller's current certificate`);
    }
  }

  // ---- sealing one value ----
  async function sealValue(key, label, plaintext) {
    const sessionKey = crypto.getRandomValues(new Uint8Array(32));
    try {
      const rsa = new Uint8Array(await crypto.subtle.encrypt(
        { name: 'RSA-OAEP', label: utf8.encode(label) }, key, sessionKey));
      const aesKey = await crypto.subtle.importKey('raw', sessionKey, 'AES-GCM', false, ['encrypt']);
      const aes = new Uint8Array(await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: new Uint8Array(12), tagLength: 128 }, aesKey, plaintext));
      const out = new Uint8Array(2 + rsa.length + aes.length);
      out[0] = rsa.length >> 8;
      out[1] = rsa.length & 0xff;
      out.set(rsa, 2);
      out.set(aes, 2 + rsa.length);
      return toBase64(out);
    } finally {
      sessionKey.fill(0);
    }
  }

  function scopeLabel(scope, namespace, name) {
    if (scope === 'strict') return `${namespace}/${name}`;
    if (scope === 'namespace-wide') return namespace;
    return '';
  }
  function scopeAnnotations(annotations, scope) {
    delete annotations[NAMESPACE_WIDE];
    delete annotations[CLUSTER_WIDE];
    if (scope === 'namespace-wide') annotations[NAMESPACE_WIDE] = 'true';
    if (scope === 'cluster-wide') annotations[CLUSTER_WIDE] = 'true';
    return annotations;
  }

  // ---- a minimal YAML reader for pasted Secrets ----
  // Block mappings of scalars (plain, 'single', "double", | and |- blocks),
  // `{}`, comments and one leading `---`. Anything else is refused with its
  // line, rather than guessed at.
  function parseYaml(text) {
    const lines = text.split(/\r?\n/);
    let i = 0;
    const isBlank = (l) => /^\s*(#.*)?$/.test(l);
    const indentOf = (l) => l.length - l.trimStart().length;
    while (i < lines.length && isBlank(lines[i])) i++;
    if (i < lines.length && /^---\s*$/.test(lines[i])) i++;

    function scalar(raw, n) {
      const v = raw.trim();
      if (v.startsWith('"')) {
        const end = closingQuote(v, n);
        try { return JSON.parse(v.slice(0, end + 1)); } catch (e) {
          fail(`line ${n}: a double-quoted value with an escape this page does not read`);
        }
      }
      if (v.startsWith("'")) {
        const m = /^'((?:[^']|'')*)'\s*(#.*)?$/.exec(v);
        if (!m) fail(`line ${n}: unterminated single-quoted value`);
        return m[1].replace(/''/g, "'");
      }
      if (v === '{}') return {};
      if (/^[[{&*!%@`>]/.test(v)) fail(`line ${n}: lists, flow collections, anchors, tags and folded values are not supported`);
      return v.replace(/\s+#.*$/, '');
    }
    function closingQuote(v, n) {
      for (let k = 1; k < v.length; k++) {
        if (v[k] === '\\') { k++; continue; }
        if (v[k] === '"') {
          if (!/^\s*(#.*)?$/.test(v.slice(k + 1))) fail(`line ${n}: text after a quoted value`);
          return k;
        }
      }
      fail(`line ${n}: unterminated double-quoted value`);
    }
    function block(indent, chomp) {
      const out = [];
      let blockIndent = -1;
      while (i < lines.length) {
        const l = lines[i];
        if (l.trim() === '') { out.push(''); i++; continue; }
        const ind = indentOf(l);
        if (ind <= indent) break;
        if (blockIndent < 0) blockIndent = ind;
        if (ind < blockIndent) break;
        out.push(l.slice(blockIndent));
        i++;
      }
      while (out.length && out[out.length - 1] === '') out.pop();
      const body = out.join('\n');
      return chomp === '-' ? body : body + '\n';
    }
    function mapping(indent) {
      const map = {};
      while (i < lines.length) {
        const l = lines[i];
        if (isBlank(l)) { i++; continue; }
        const n = i + 1;
        const ind = indentOf(l);
        if (ind < indent) break;
        if (ind > indent) fail(`line ${n}: unexpected indentation`);
        if (/^---/.test(l)) fail(`line ${n}: paste one Secret (one YAML document)`);
        if (/^\s*- /.test(l) || /^\s*-$/.test(l)) fail(`line ${n}: lists are not supported here`);
        const m = /^\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"][^:]*?)\s*:(?:\s+(.*)|\s*)$/.exec(l);
        if (!m) fail(`line ${n}: expected "key: value"`);
        const key = scalar(m[1], n);
        if (Object.prototype.hasOwnProperty.call(map, key)) fail(`line ${n}: duplicate key ${JSON.stringify(key)}`);
        const rest = (m[2] || '').trim();
        i++;
        if (rest === '' || rest.startsWith('#')) {
          let j = i;
          while (j < lines.length && isBlank(lines[j])) j++;
          if (j < lines.length && indentOf(lines[j]) > indent && !/^\s*-/.test(lines[j])) {
            i = j;
            map[key] = mapping(indentOf(lines[j]));
          } else if (j < lines.length && indentOf(lines[j]) >= indent && /^\s*-/.test(lines[j])) {
            fail(`line ${j + 1}: lists are not supported here`);
          } else {
            map[key] = null;
          }
        } else if (/^\|[-+]?\s*(#.*)?$/.test(rest)) {
          if (rest[1] === '+') fail(`line ${n}: "|+" blocks are not supported; use | or |-`);
          map[key] = block(indent, rest[1]);
        } else {
          map[key] = scalar(rest, n);
        }
      }
      return map;
    }
    const doc = mapping(0);
    if (i < lines.length) fail(`line ${i + 1}: unexpected text`);
    return doc;
  }

  // ---- what to seal: a Secret from the form or from a pasted manifest ----
  const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

  function isMap(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function stringMap(v, where) {
    if (v === null || v === undefined) return {};
    if (!isMap(v)) fail(`${where} must be a mapping`);
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string') fail(`${where}.${k} must be a string`);
    }
    return { ...v };
  }

  // A Secret manifest as {name, namespace, type, immutable, labels,
  // annotations, values: [[key, bytes]]}; every field is either used or
  // refused by name.
  function secretFromManifest(text) {
    if (text.length > MAX_MANIFEST) fail(`the manifest is larger than ${MAX_MANIFEST} bytes`);
    const trimmed = text.trim();
    if (!trimmed) fail('paste a Secret manifest');
    let doc;
    if (trimmed.startsWith('{')) {
      // NB: not the parser's message, which quotes the text (values included).
      try { doc = JSON.parse(trimmed); } catch (e) { fail('the manifest is not valid JSON'); }
    } else {
      doc = parseYaml(text);
    }
    if (!isMap(doc)) fail('the manifest must be a Secret object');
    for (const k of Object.keys(doc)) {
      if (!['apiVersion', 'kind', 'metadata', 'type', 'data', 'stringData', 'immutable'].includes(k)) {
        fail(`the manifest's field ${k} is not one a Secret has`);
      }
    }
    if (doc.kind !== undefined && doc.kind !== 'Secret') fail(`the manifest's kind is ${doc.kind}, not Secret`);
    if (doc.apiVersion !== undefined && doc.apiVersion !== 'v1') fail(`the manifest's apiVersion is ${doc.apiVersion}, not v1`);
    const meta = doc.metadata ?? {};
    if (!isMap(meta)) fail('metadata must be a mapping');
    for (const k of Object.keys(meta)) {
      if (!['name', 'namespace', 'labels', 'annotations', ...SERVER_FIELDS].includes(k)) {
        fail(`metadata.${k} is not supported by this page; seal with the coffer CLI instead`);
      }
    }
    const annotations = stringMap(meta.annotations, 'metadata.annotations');
    for (const a of LAST_APPLIED) delete annotations[a];
    let immutable;
    if (doc.immutable !== undefined && doc.immutable !== null) {
      if (doc.immutable === true || doc.immutable === 'true') immutable = true;
      else if (doc.immutable === false || doc.immutable === 'false') immutable = false;
      else fail('immutable must be true or false');
    }
    const values = new Map();
    for (const [k, v] of Object.entries(stringMap(doc.data, 'data'))) {
      values.set(k, fromBase64(v, `data.${k}`));
    }
    // stringData wins on a shared key, as the API server merges them.
    for (const [k, v] of Object.entries(stringMap(doc.stringData, 'stringData'))) {
      values.set(k, utf8.encode(v));
    }
    const opt = (v, where) => {
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v !== 'string') fail(`${where} must be a string`);
      return v;
    };
    return {
      name: opt(meta.name, 'metadata.name'),
      namespace: opt(meta.namespace, 'metadata.namespace'),
      type: opt(doc.type, 'type'),
      immutable,
      labels: stringMap(meta.labels, 'metadata.labels'),
      annotations,
      values: [...values.entries()],
    };
  }

  async function secretFromPairs(rows) {
    const values = [];
    const seen = new Set();
    for (const [index, row] of rows.entries()) {
      const key = row.querySelector('.pair-key').value.trim();
      const text = row.querySelector('.pair-value').value;
      const file = row.querySelector('.pair-file').files[0];
      if (!key && !text && !file) continue;
      if (!key) fail(`key ${index + 1} has a value but no name`);
      if (seen.has(key)) fail(`key ${key} is given twice`);
      seen.add(key);
      if (file && text) fail(`key ${key} has both a value and a file; clear one`);
      if (file && file.size > MAX_VALUE) fail(`the file for key ${key} is larger than ${MAX_VALUE} bytes`);
      values.push([key, file ? new Uint8Array(await file.arrayBuffer()) : utf8.encode(text)]);
    }
    return { labels: {}, annotations: {}, values };
  }

  // Checks `secret` (with the form's fields filled in) and seals it into the
  // SealedSecret coffer-sealed's seal_secret writes.
  async function sealSecret(secret, form, cert) {
    const name = secret.name ?? form.name;
    const namespace = secret.namespace ?? form.namespace;
    const type = secret.type ?? form.type;
    const scope = form.scope;
    if (!name) fail('a name is required');
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      fail(`name ${JSON.stringify(name)} is not a valid Secret name (lowercase letters, digits, - and .)`);
    }
    if (!namespace && scope !== 'cluster-wide') fail(`a namespace is required for the ${scope} scope`);
    if (namespace && (namespace.length > 63 || !DNS_LABEL.test(namespace))) {
      fail(`namespace ${JSON.stringify(namespace)} is not a valid namespace name`);
    }
    if (!['strict', 'namespace-wide', 'cluster-wide'].includes(scope)) fail(`unknown scope ${scope}`);
    if (secret.values.length === 0) fail('add at least one key with a value');
    if (secret.values.length > MAX_KEYS) fail(`more than ${MAX_KEYS} keys`);
    let total = 0;
    for (const [key, value] of secret.values) {
      if (key.length > 253 || !DATA_KEY.test(key)) {
        fail(`key ${JSON.stringify(key)} is not a valid Secret key (letters, digits, -, _ and .)`);
      }
      if (value.length > MAX_VALUE) fail(`the value of key ${key} is larger than ${MAX_VALUE} bytes`);
      total += value.length;
    }
    if (total > MAX_TOTAL) fail(`the values add up to more than ${MAX_TOTAL} bytes, a Secret's limit`);
    ensureNotExpired(cert, new Date());

    const label = scopeLabel(scope, namespace ?? '', name);
    const encryptedData = {};
    for (const [key, value] of [...secret.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      encryptedData[key] = await sealValue(cert.key, label, value);
    }
    const templateMeta = { name };
    if (namespace) templateMeta.namespace = namespace;
    if (Object.keys(secret.labels).length) templateMeta.labels = secret.labels;
    const templateAnnotations = scopeAnnotations({ ...secret.annotations }, scope);
    if (Object.keys(templateAnnotations).length) templateMeta.annotations = templateAnnotations;
    const meta = { name };
    if (namespace) meta.namespace = namespace;
    const annotations = scopeAnnotations({}, scope);
    if (Object.keys(annotations).length) meta.annotations = annotations;
    const template = { metadata: templateMeta };
    if (type) template.type = type;
    if (secret.immutable !== undefined) template.immutable = secret.immutable;
    return {
      apiVersion: 'bitnami.com/v1alpha1',
      kind: 'SealedSecret',
      metadata: meta,
      spec: { template, encryptedData },
    };
  }

  // ---- output ----
  const YAML_WORDS = /^(true|false|yes|no|on|off|y|n|null|~)$/i;
  function yamlScalar(v) {
    if (typeof v === 'boolean') return String(v);
    if (/^[A-Za-z_/][A-Za-z0-9._/+=-]*$/.test(v) && !YAML_WORDS.test(v)) return v;
    return JSON.stringify(v);
  }
  function toYaml(obj, indent = '') {
    let out = '';
    for (const [k, v] of Object.entries(obj)) {
      if (isMap(v)) {
        out += `${indent}${yamlScalar(k)}:\n${toYaml(v, indent + '  ')}`;
      } else {
        out += `${indent}${yamlScalar(k)}: ${yamlScalar(v)}\n`;
      }
    }
    return out;
  }

  // ---- the page ----
  const $ = (id) => document.getElementById(id);
  let current = null; // the certificate in use
  let result = null; // the last SealedSecret

  function showCertificate(cert, from) {
    current = null;
    $('cert-fingerprint').textContent = cert.fingerprint;
    $('cert-expiry').textContent = cert.notAfter.toISOString().replace('.000Z', 'Z');
    try {
      ensureNotExpired(cert, new Date());
    } catch (e) {
      certProblem(e.message);
      return;
    }
    current = cert;
    $('cert-status').textContent = `RSA ${cert.bits}-bit key from ${from}`;
    $('cert-status').classList.remove('bad');
    $('seal').disabled = false;
  }
  function certProblem(message) {
    current = null;
    $('cert-status').textContent = message;
    $('cert-status').classList.add('bad');
    $('seal').disabled = true;
  }
  async function loadCertificate(pem, from) {
    try {
      showCertificate(await readCertificate(pem), from);
    } catch (e) {
      certProblem(e instanceof InputError ? e.message : `cannot read the certificate: ${e.message}`);
    }
  }

  function addPair() {
    const row = $('pair-template').content.firstElementChild.cloneNode(true);
    const n = $('pairs').children.length + 1;
    row.querySelector('.pair-key').setAttribute('aria-label', `Key ${n} name`);
    row.querySelector('.pair-value').setAttribute('aria-label', `Key ${n} value`);
    row.querySelector('.pair-file').setAttribute('aria-label', `Key ${n} file`);
    row.querySelector('.pair-remove').setAttribute('aria-label', `Remove key ${n}`);
    row.querySelector('.pair-remove').addEventListener('click', () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      if (!$('pairs').children.length) addPair();
      (next || $('pairs').lastElementChild).querySelector('.pair-key').focus();
    });
    $('pairs').append(row);
    return row;
  }

  function selectTab(format) {
    for (const f of ['yaml', 'json']) {
      const on = f === format;
      $(`tab-${f}`).setAttribute('aria-selected', String(on));
      $(`tab-${f}`).tabIndex = on ? 0 : -1;
      $(`out-${f}`).hidden = !on;
    }
  }
  const currentFormat = () => ($('tab-json').getAttribute('aria-selected') === 'true' ? 'json' : 'yaml');

  async function onSeal(event) {
    event.preventDefault();
    $('error').textContent = '';
    $('copied').textContent = '';
    if (!current) { $('error').textContent = 'no usable certificate'; return; }
    const button = $('seal');
    button.disabled = true;
    try {
      const manifest = $('source-manifest').checked;
      const secret = manifest
        ? secretFromManifest($('manifest').value)
        : await secretFromPairs([...$('pairs').children]);
      const form = {
        name: $('name').value.trim() || undefined,
        namespace: $('namespace').value.trim() || undefined,
        type: $('type').value.trim() || undefined,
        scope: $('scope').value,
      };
      result = await sealSecret(secret, form, current);
      $('out-yaml').value = `---\n${toYaml(result)}`;
      $('out-json').value = `${JSON.stringify(result, null, 2)}\n`;
      $('output').hidden = false;
      $('out-heading').focus();
    } catch (e) {
      $('error').textContent = e instanceof InputError ? e.message : `sealing failed: ${e.message}`;
    } finally {
      button.disabled = !current;
    }
  }

  function outputText() { return $(`out-${currentFormat()}`).value; }

  async function onCopy() {
    try {
      await navigator.clipboard.writeText(outputText());
    } catch (e) {
      const area = $(`out-${currentFormat()}`);
      area.select();
      document.execCommand('copy');
    }
    $('copied').textContent = 'Copied.';
  }

  function onDownload() {
    const format = currentFormat();
    const type = format === 'json' ? 'application/json' : 'application/yaml';
    const url = URL.createObjectURL(new Blob([outputText()], { type }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${result.metadata.name}-sealed.${format}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function init() {
    addPair();
    $('add-pair').addEventListener('click', () => addPair().querySelector('.pair-key').focus());
    for (const radio of document.querySelectorAll('input[name=source]')) {
      radio.addEventListener('change', () => {
        const manifest = $('source-manifest').checked;
        $('manifest-panel').hidden = !manifest;
        $('pairs-panel').hidden = manifest;
      });
    }
    $('seal-form').addEventListener('submit', onSeal);
    $('tab-yaml').addEventListener('click', () => selectTab('yaml'));
    $('tab-json').addEventListener('click', () => selectTab('json'));
    for (const tab of document.querySelectorAll('[role=tab]')) {
      tab.addEventListener('keydown', (e) => {
        if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
          const next = currentFormat() === 'yaml' ? 'json' : 'yaml';
          selectTab(next);
          $(`tab-${next}`).focus();
        }
      });
    }
    $('out-heading').tabIndex = -1;
    $('copy').addEventListener('click', onCopy);
    $('download').addEventListener('click', onDownload);
    $('cert-use').addEventListener('click', () => loadCertificate($('cert-pem').value, 'the pasted PEM'));
    if (!window.crypto || !crypto.subtle) {
      certProblem('this browser offers no Web Crypto here (it needs a secure context: HTTPS, or localhost)');
      return;
    }
    fetch('v1/cert.pem', { cache: 'no-store', credentials: 'same-origin', redirect: 'error' })
      .then(async (r) => {
        if (!r.ok) throw new InputError(`cannot fetch v1/cert.pem: HTTP ${r.status}`);
        const pem = await r.text();
        await loadCertificate(pem, 'this server (v1/cert.pem)');
      })
      .catch((e) => certProblem(e instanceof InputError ? e.message : `cannot fetch v1/cert.pem: ${e.message}`));
  }

  document.addEventListener('DOMContentLoaded', init);
})();
