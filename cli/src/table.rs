//! Aligned columns like Consul's (ryanuber/columnize): every column but the last is padded to
//! its widest cell and followed by two spaces.

/// Formats `rows` (the header first) as aligned text, one line per row, no trailing newline.
pub fn columnize(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let lines: Vec<String> = rows.iter().map(|row| format_row(row, &widths)).collect();
    lines.join("\n")
}

fn format_row(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, cell) in row.iter().enumerate() {
        if i + 1 == row.len() {
            line.push_str(cell);
        } else {
            let pad = widths[i] - cell.chars().count();
            line.push_str(cell);
            line.push_str(&" ".repeat(pad + 2));
        }
    }
    // An empty last column would leave the glue behind.
    line.trim_end().to_string()
}

/// Builds a row from anything printable.
#[macro_export]
macro_rules! row {
    ($($cell:expr),* $(,)?) => {
        vec![$($cell.to_string()),*]
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_all_but_the_last_column() {
        let rows = vec![
            row!["Node", "Address", "Status"],
            row!["node-one", "10.0.0.1:8301", "alive"],
        ];
        assert_eq!(
            columnize(&rows),
            "Node      Address        Status\nnode-one  10.0.0.1:8301  alive"
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        let rows = vec![row!["名字", "x"], row!["abc", "y"]];
        assert_eq!(columnize(&rows), "名字   x\nabc  y");
    }

    #[test]
    fn empty_last_cells_leave_no_trailing_spaces() {
        let rows = vec![row!["a", "b"], row!["c", ""]];
        assert_eq!(columnize(&rows), "a  b\nc");
    }
}
