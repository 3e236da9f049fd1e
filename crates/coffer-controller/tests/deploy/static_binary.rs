//! The static binaries the image ships (tests/static-build.sh, musl): they
//! are statically linked and the controller works against the local
//! control plane. tests/test-all.sh runs it with `COFFER_STATIC_BIN_DIR=$(tests/static-build.sh)
//! cargo test -p coffer-controller --test deploy -- --ignored
//! static_binaries`; ignored in a plain `cargo test`, which has no static
//! build to test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use coffer_crypto::Certificate;
use coffer_testenv::free_port;

use crate::common::{World, eventually, get, secret_with_data};

/// Whether an ELF executable asks for a dynamic loader (a `PT_INTERP`
/// program header): a static binary does not.
fn has_interpreter(elf: &[u8]) -> bool {
    assert!(
        elf.len() > 64 && &elf[..4] == b"\x7fELF" && elf[4] == 2 && elf[5] == 1,
        "a 64-bit little-endian ELF file"
    );
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff + i * size;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3
    })
}

/// Stops the child process when the test ends, passing or failing.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
#[ignore = "needs COFFER_STATIC_BIN_DIR from tests/static-build.sh"]
async fn static_binaries_are_static_and_the_controller_unseals_on_the_local_control_plane() {
    let dir = PathBuf::from(
        std::env::var_os("COFFER_STATIC_BIN_DIR")
            .expect("COFFER_STATIC_BIN_DIR names the static build (tests/static-build.sh)"),
    );
    for name in ["coffer-controller", "coffer"] {
        let elf = std::fs::read(dir.join(name)).unwrap();
        assert!(!has_interpreter(&elf), "{name} is linked dynamically");
        let version = Command::new(dir.join(name))
            .arg("--version")
            .output()
            .unwrap();
        assert!(version.status.success(), "{name} --version");
    }
    // The check itself: the cargo-built test binary is dynamic.
    let this = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert!(
        has_interpreter(&this),
        "the check tells a dynamic binary apart"
    );

    let world = World::new("deploy-static").await;
    let (http, metrics) = (free_port().unwrap(), free_port().unwrap());
    let _controller = Killed(
        Command::new(dir.join("coffer-controller"))
            .args([
                "--leader-elect=false",
                "--key-size=2048",
                "--external-secrets=false",
                &format!("--namespace={}", world.ctrl_ns.name()),
                &format!("--namespaces={}", world.ns.name()),
                &format!("--listen-addr=127.0.0.1:{http}"),
                &format!("--metrics-addr=127.0.0.1:{metrics}"),
            ])
            .env("KUBECONFIG", world.env.kubeconfig())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the static controller"),
    );
    let url = format!("http://127.0.0.1:{http}/v1/cert.pem");
    let pem = eventually("the static controller's certificate", || async {
        let (status, body) = get(&url).await?;
        (status == 200).then_some(body)
    })
    .await;
    let cert = Certificate::from_pem(&pem).expect("a certificate");
    let sealed = coffer_sealed::seal_secret(
        &world.secret("static", &[("password", "hunter2")]),
        cert.public_key(),
        None,
    )
    .unwrap();
    world
        .sealed_secrets()
        .create(&Default::default(), &sealed)
        .await
        .unwrap();
    secret_with_data(&world, "static", &[("password", "hunter2")]).await;
}
