//! `concord keygen`: a random 32-byte gossip key, base64, as Consul's.

use base64::Engine;
use std::io::Read;

pub fn run() -> i32 {
    match random_key() {
        Ok(key) => {
            println!("{key}");
            0
        }
        Err(e) => super::fail(format!("Error reading random data: {e}")),
    }
}

fn random_key() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_32_random_bytes() {
        use base64::Engine;
        let a = super::random_key().unwrap();
        let b = super::random_key().unwrap();
        assert_ne!(a, b);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(a)
                .unwrap()
                .len(),
            32
        );
    }
}
