//! Secrets: Argon2id password hashes, API tokens (`flt_<id>_<secret>`), the
//! one-time admin password, and the keyed digests the credential cache uses.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use flotilla_core::Error;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix every token starts with, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "flt_";
/// MLflow's rule (`_validate_password`): at least 12 characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Passwords refused whatever their length: MLflow 2.x's shipped default.
const KNOWN_DEFAULTS: &[&str] = &["password1234"];
const ID_CHARS: usize = 8;
const SECRET_CHARS: usize = 43;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// OWASP's Argon2id parameters: 19 MiB, 2 passes, 1 lane. A stored hash
/// carries its own parameters, so changing these keeps old hashes verifying.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19_456, 2, 1, None).expect("static argon2 params"))
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`). CPU- and memory-bound
/// (tens of milliseconds): call it on the blocking pool.
pub fn hash_password(password: &str) -> Result<String, Error> {
    hasher().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| {
        tracing::error!(error = %e, "hashing a password failed");
        Error::internal("hashing a password failed")
    })
}

/// Whether `password` matches the PHC string; blocking, like [`hash_password`].
pub fn verify_password(password: &str, phc: &str) -> bool {
    hasher().verify_password(password.as_bytes(), phc).is_ok()
}

/// A fixed hash verified when the user does not exist, so an unknown user
/// and a wrong password take the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("flotilla-no-such-user").unwrap_or_default())
}

/// MLflow's password rule, plus the known default passwords.
pub fn check_password(password: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(format!("Password must be at least {MIN_PASSWORD_CHARS} characters.")));
    }
    if KNOWN_DEFAULTS.contains(&password) {
        return Err(Error::invalid("That password is a published default; choose another."));
    }
    Ok(())
}

/// `n` characters of base62 from the operating system's CSPRNG.
pub fn random_base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        OsRng.try_fill_bytes(&mut buf).expect("the operating system's random source");
        // 62 * 4 = 248: rejecting bytes above it keeps every character equally likely.
        out.extend(buf.iter().filter(|b| **b < 248).map(|b| BASE62[(*b % 62) as usize] as char));
    }
    out.truncate(n);
    out
}

/// A one-time admin password: 24 base62 characters (~143 bits).
pub fn one_time_password() -> String {
    random_base62(24)
}

/// A new token: its public id, the whole token to show once, and the hash to store.
pub fn new_token() -> (String, String, [u8; 32]) {
    let id = random_base62(ID_CHARS);
    let secret = random_base62(SECRET_CHARS);
    let token = format!("{TOKEN_PREFIX}{id}_{secret}");
    (id, token, sha256(secret.as_bytes()))
}

/// The public id and secret of a token, if it has a token's shape.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.strip_prefix(TOKEN_PREFIX)?.split_once('_')?;
    (id.len() == ID_CHARS && !secret.is_empty()).then_some((id, secret))
}

/// Whether `secret` is the one whose SHA-256 is `stored`, in constant time.
pub fn secret_matches(secret: &str, stored: &[u8; 32]) -> bool {
    sha256(secret.as_bytes()).ct_eq(stored).into()
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The credential cache's keyed digest: HMAC-SHA256 under a per-process
/// random key, so no plaintext password is kept in memory. The keyed state
/// is made once; each digest starts from a copy of it.
#[derive(Clone)]
pub struct DigestKey(Hmac<Sha256>);

impl DigestKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        OsRng.try_fill_bytes(&mut key).expect("the operating system's random source");
        Self(<Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length"))
    }

    /// The digest of the parts (length-prefixed, so no two lists of parts share one).
    pub fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let phc = hash_password("correct-horse-1").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct-horse-1", &phc));
        assert!(!verify_password("correct-horse-2", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn password_rule() {
        for (password, ok) in
            [("short", false), ("elevenchars", false), ("twelve-chars", true), ("password1234", false)]
        {
            assert_eq!(check_password(password).is_ok(), ok, "{password}");
        }
    }

    #[test]
    fn digests_are_keyed_and_length_prefixed() {
        let (a, b) = (DigestKey::random(), DigestKey::random());
        assert_eq!(a.digest(&[b"basic", b"u", b"p"]), a.digest(&[b"basic", b"u", b"p"]));
        assert_ne!(a.digest(&[b"basic", b"u", b"p"]), b.digest(&[b"basic", b"u", b"p"]), "another process's key");
        assert_ne!(a.digest(&[b"ab", b"c"]), a.digest(&[b"a", b"bc"]), "parts are not concatenated");
    }

    #[test]
    fn tokens_have_a_recognisable_shape() {
        let (id, token, hash) = new_token();
        let (parsed_id, secret) = split_token(&token).expect("own shape");
        assert_eq!(parsed_id, id);
        assert!(token.starts_with("flt_") && token.len() == 4 + 8 + 1 + 43, "{token}");
        assert!(secret_matches(secret, &hash));
        assert!(!secret_matches("other", &hash));
        for bad in ["", "flt_", "flt_short_x", "ghp_12345678_abc", "flt_12345678_"] {
            assert_eq!(split_token(bad), None, "{bad}");
        }
        assert_ne!(new_token().1, token);
    }
}
