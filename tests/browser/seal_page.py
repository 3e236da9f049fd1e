"""Drives Coffer's sealing page in headless Chromium (Playwright, with the
system's Chromium: browser downloads are not possible here).

Reads a JSON job on stdin, prints a JSON report on stdout:

  job:    {"url", "chromium", "screenshots": dir or null,
           "name", "namespace", "scope", "type",
           "pairs": [{"key", "value"} | {"key", "file"}] | "manifest": text,
           "offline": seal with the network cut after the page loaded,
           "paste_cert": PEM to use instead of the served one}
  report: {"cert_status", "fingerprint", "expiry", "seal_enabled",
           "yaml", "json", "download", "error",
           "requests": [{"url", "method", "headers", "body"}],
           "console": [text of every console message and page error]}

Every request the page makes is recorded, with its body, so the caller can
check that no plaintext left the page.
"""

import base64
import json
import os
import sys

from playwright.sync_api import expect, sync_playwright

# Generous: the whole test suite may be running on two cores beside us.
TIMEOUT_MS = 60_000


def main():
    job = json.load(sys.stdin)
    report = {"requests": [], "console": []}
    shots = job.get("screenshots")
    with sync_playwright() as p:
        # --no-sandbox: tests run as root, where Chromium's sandbox refuses to start.
        browser = p.chromium.launch(
            executable_path=job["chromium"], args=["--no-sandbox"], timeout=2 * TIMEOUT_MS)
        try:
            context = browser.new_context(accept_downloads=True, viewport={"width": 1000, "height": 900})
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)

            def on_request(request):
                body = request.post_data_buffer
                report["requests"].append({
                    "url": request.url,
                    "method": request.method,
                    "headers": request.all_headers(),
                    "body": base64.b64encode(body).decode() if body else None,
                })

            page.on("request", on_request)
            page.on("console", lambda m: report["console"].append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: report["console"].append(f"pageerror: {e}"))

            page.goto(job["url"])
            # NB: selectors and expect(), not wait_for_function: a string
            # predicate is eval, which the page's CSP rightly refuses.
            page.locator("#seal:enabled, #cert-status.bad").first.wait_for()
            if shots:
                page.screenshot(path=os.path.join(shots, "empty.png"), full_page=True)

            if job.get("paste_cert"):
                page.click("details summary")
                page.fill("#cert-pem", job["paste_cert"])
                page.click("#cert-use")
                expect(page.locator("#cert-status")).not_to_contain_text("this server")

            report["cert_status"] = page.inner_text("#cert-status")
            report["fingerprint"] = page.inner_text("#cert-fingerprint")
            report["expiry"] = page.inner_text("#cert-expiry")
            report["seal_enabled"] = page.is_enabled("#seal")
            if not report["seal_enabled"]:
                return report

            if job.get("offline"):
                # The page was loaded; from here on it must work on its own.
                context.set_offline(True)

            fill_form(page, job)
            if shots:
                page.screenshot(path=os.path.join(shots, "filled.png"), full_page=True)

            # Keyboard: Enter in a field submits the form.
            page.focus("#type")
            page.keyboard.press("Enter")
            page.locator("#output:not([hidden]), #error:not(:empty)").first.wait_for()
            report["error"] = page.inner_text("#error")
            if report["error"]:
                return report
            report["yaml"] = page.input_value("#out-yaml")
            page.click("#tab-json")
            report["json"] = page.input_value("#out-json")
            with page.expect_download() as download:
                page.click("#download")
            with open(download.value.path(), encoding="utf-8") as f:
                report["download"] = f.read()
            report["download_name"] = download.value.suggested_filename
            page.click("#tab-yaml")
            if shots:
                page.screenshot(path=os.path.join(shots, "result.png"), full_page=True)
        finally:
            browser.close()
    return report


def fill_form(page, job):
    page.fill("#name", job.get("name", ""))
    page.fill("#namespace", job.get("namespace", ""))
    page.select_option("#scope", job.get("scope", "strict"))
    if job.get("type") is not None:
        page.fill("#type", job["type"])
    if job.get("manifest") is not None:
        page.check("#source-manifest")
        page.fill("#manifest", job["manifest"])
        return
    for i, pair in enumerate(job.get("pairs", [])):
        if i > 0:
            page.click("#add-pair")
        row = page.locator("#pairs > li").nth(i)
        row.locator(".pair-key").fill(pair["key"])
        if "file" in pair:
            row.locator(".pair-file").set_input_files(pair["file"])
        else:
            row.locator(".pair-value").fill(pair["value"])


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
