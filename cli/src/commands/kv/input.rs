//! Where a value comes from on the command line, as in Consul: `@file`, `-` (stdin), or the
//! argument itself.

use std::io::Read;

pub fn read_data(arg: &str) -> Result<Vec<u8>, String> {
    if let Some(path) = arg.strip_prefix('@') {
        return std::fs::read(path).map_err(|e| format!("Failed to read file: {e}"));
    }
    if arg == "-" {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| format!("Failed to read stdin: {e}"))?;
        return Ok(data);
    }
    Ok(arg.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn literal_and_file_values() {
        assert_eq!(read_data("value").unwrap(), b"value");
        let dir = TempDir::new("kvinput");
        let path = dir.write("v.bin", "from file\n");
        assert_eq!(
            read_data(&format!("@{}", path.display())).unwrap(),
            b"from file\n"
        );
        assert!(read_data("@/nonexistent/file")
            .unwrap_err()
            .starts_with("Failed to read file"));
    }
}
