//! rustls (ring) client configurations with libpq's `sslmode` semantics: `prefer`/`require`
//! encrypt without verifying the server certificate; `verify-ca` checks its chain against
//! trusted certificates, `verify-full` also that it names the host.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// What the server certificate is checked for.
#[derive(Debug)]
enum Check {
    /// Nothing (`prefer`, `require`).
    Nothing,
    /// Its chain ends at one of these (`verify-ca`), and with `true` it names the host
    /// (`verify-full`).
    Roots(RootCertStore, bool),
}

#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    check: Check,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Check::Roots(roots, check_host) = &self.check {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
            if *check_host {
                verify_server_name(&cert, server_name)?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn config(check: Check) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(ring::default_provider());
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { provider, check }))
        .with_no_client_auth();
    Ok(config)
}

/// An encrypting, non-verifying client configuration.
pub(super) fn unverified_config() -> Result<ClientConfig, rustls::Error> {
    config(Check::Nothing)
}

/// A configuration that accepts only a certificate chain ending at one of `roots`, and with
/// `check_host` only one naming the host.
pub(super) fn verified_config(
    roots: RootCertStore,
    check_host: bool,
) -> Result<ClientConfig, rustls::Error> {
    config(Check::Roots(roots, check_host))
}

/// The certificates of a PEM file. Every `CERTIFICATE` block must be a certificate
/// (`lenient`: those that are not are skipped, for system bundles); there must be one.
/// Errors name the file.
pub(super) fn load_roots(path: &Path, lenient: bool) -> Result<RootCertStore, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut roots = RootCertStore::empty();
    for (i, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|e| format!("{} is not a valid PEM file: {e}", path.display()))?;
        if let Err(e) = roots.add(cert) {
            if !lenient {
                return Err(format!(
                    "certificate {} of {} is not a valid X.509 certificate: {e}",
                    i + 1,
                    path.display()
                ));
            }
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(roots)
}

/// The rustls error behind a failed connection, if the TLS layer failed.
pub(super) fn rustls_error(e: &postgres::Error) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(r) = inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return Some(r);
        }
        cause = c.source();
    }
    None
}
