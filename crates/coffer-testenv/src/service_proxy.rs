//! Lets the API server's service proxy reach a server this test runs on
//! the host, as kubeseal reaches the controller (`--fetch-cert`,
//! `--validate`, `--re-encrypt`: `http:<service>:<port name>` under the
//! Service's `proxy` subresource).
//!
//! How kube-apiserver (v1.36, `pkg/registry/core/service/storage`,
//! `ResourceLocation`) finds the backend, and what that asks of a test:
//! - it dials an address of the Service's *Endpoints* object (not its
//!   EndpointSlices) in the subset whose port name is the Service port's;
//! - it only dials an address whose `targetRef` names a Pod in the
//!   Service's namespace with that IP in `status.podIPs` ("we only proxy to
//!   addresses that are actually pods");
//! - Endpoints validation refuses loopback and link-local addresses.
//!
//! So the server listens on this machine's non-loopback IPv4 address
//! ([`routable_ip`]), and [`expose`] creates a selector-less Service, a Pod
//! object that never runs (there is no scheduler or kubelet) whose status
//! carries that IP, and Endpoints naming the Pod.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use k8s_openapi::api::core::v1::{
    Container, EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod,
    PodSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

use crate::Error;

/// This machine's non-loopback IPv4 address: the source address the kernel
/// picks for the default route.
///
/// # Panics
/// On a machine without a default route, saying why the test needs one.
pub fn routable_ip() -> IpAddr {
    let socket = UdpSocket::bind("0.0.0.0:0").expect("bind a UDP socket");
    // TEST-NET-2: never contacted; `connect` on UDP only chooses a route.
    socket.connect("198.51.100.1:9").unwrap_or_else(|e| {
        panic!(
            "no route off this machine ({e}): the API server's service proxy cannot reach a \
             server on loopback, so this test needs a non-loopback IPv4 address"
        )
    });
    let ip = socket.local_addr().expect("the socket's address").ip();
    assert!(!ip.is_loopback(), "the default route's source is {ip}");
    ip
}

/// Makes Service `service` in `namespace`, port `port_name` (port 8080),
/// proxy to `addr` (an address on [`routable_ip`]): the Service, a stand-in
/// Pod `<service>-0` with that IP, and the Endpoints naming it.
pub async fn expose(
    client: &kube::Client,
    namespace: &str,
    service: &str,
    port_name: &str,
    addr: SocketAddr,
) -> Result<(), Error> {
    let pp = PostParams::default();
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_owned()),
        ..ObjectMeta::default()
    };
    let kube = |what: String| move |source| Error::Kube { what, source };
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let spec = ServiceSpec {
        // No selector: the Endpoints are written here.
        ports: Some(vec![ServicePort {
            name: Some(port_name.to_owned()),
            port: 8080,
            target_port: Some(IntOrString::Int(8080)),
            ..ServicePort::default()
        }]),
        ..ServiceSpec::default()
    };
    let object = Service {
        metadata: meta(service),
        spec: Some(spec),
        ..Service::default()
    };
    services
        .create(&pp, &object)
        .await
        .map_err(kube(format!("create Service {namespace}/{service}")))?;

    let pod_name = format!("{service}-0");
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = Pod {
        metadata: meta(&pod_name),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "server".to_owned(),
                image: Some("runs-on-the-host".to_owned()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    pods.create(&pp, &pod)
        .await
        .map_err(kube(format!("create Pod {namespace}/{pod_name}")))?;
    let ip = addr.ip().to_string();
    let status = serde_json::json!({"status": {"podIP": ip, "podIPs": [{"ip": ip}]}});
    pods.patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .map_err(kube(format!("set the IP of Pod {namespace}/{pod_name}")))?;

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    let subset = EndpointSubset {
        addresses: Some(vec![EndpointAddress {
            ip,
            target_ref: Some(ObjectReference {
                kind: Some("Pod".to_owned()),
                namespace: Some(namespace.to_owned()),
                name: Some(pod_name),
                ..ObjectReference::default()
            }),
            ..EndpointAddress::default()
        }]),
        ports: Some(vec![EndpointPort {
            name: Some(port_name.to_owned()),
            port: i32::from(addr.port()),
            protocol: Some("TCP".to_owned()),
            ..EndpointPort::default()
        }]),
        ..EndpointSubset::default()
    };
    let object = Endpoints {
        metadata: meta(service),
        subsets: Some(vec![subset]),
    };
    endpoints
        .create(&pp, &object)
        .await
        .map_err(kube(format!("create Endpoints {namespace}/{service}")))?;
    Ok(())
}
