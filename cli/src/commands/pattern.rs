//! A small regular-expression matcher for `members -status`, which Consul documents as a
//! regexp (Go syntax, unanchored). Supports literals, `.`, `[...]`, `*`, `+`, `?`, `|`,
//! `(...)`, `^`, `$` and `\` escapes: enough for `alive|failed`, `^le`, `fail.*`.

use std::collections::BTreeSet;

#[derive(Debug)]
enum Atom {
    Char(char),
    Any,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Group(Alternation),
    Start,
    End,
}

#[derive(Clone, Copy, Debug)]
enum Repeat {
    One,
    ZeroOrMore,
    OneOrMore,
    ZeroOrOne,
}

type Sequence = Vec<(Atom, Repeat)>;

#[derive(Debug)]
struct Alternation(Vec<Sequence>);

#[derive(Debug)]
pub struct Pattern(Alternation);

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut pos = 0;
        let alternation = parse_alternation(&chars, &mut pos)?;
        if pos < chars.len() {
            return Err(format!("unexpected {:?} at position {pos}", chars[pos]));
        }
        Ok(Pattern(alternation))
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        (0..=chars.len()).any(|start| !ends_of_alternation(&self.0, &chars, start).is_empty())
    }
}

fn parse_alternation(chars: &[char], pos: &mut usize) -> Result<Alternation, String> {
    let mut branches = vec![parse_sequence(chars, pos)?];
    while chars.get(*pos) == Some(&'|') {
        *pos += 1;
        branches.push(parse_sequence(chars, pos)?);
    }
    Ok(Alternation(branches))
}

fn parse_sequence(chars: &[char], pos: &mut usize) -> Result<Sequence, String> {
    let mut sequence = Vec::new();
    while let Some(&c) = chars.get(*pos) {
        if c == '|' || c == ')' {
            break;
        }
        *pos += 1;
        let atom = match c {
            '.' => Atom::Any,
            '^' => Atom::Start,
            '$' => Atom::End,
            '(' => parse_group(chars, pos)?,
            '[' => parse_class(chars, pos)?,
            '\\' => Atom::Char(escaped(chars, pos)?),
            '*' | '+' | '?' => {
                return Err(format!("missing argument to repetition operator {c:?}"))
            }
            other => Atom::Char(other),
        };
        sequence.push((atom, parse_repeat(chars, pos)));
    }
    Ok(sequence)
}

fn parse_group(chars: &[char], pos: &mut usize) -> Result<Atom, String> {
    let inner = parse_alternation(chars, pos)?;
    if chars.get(*pos) != Some(&')') {
        return Err("missing closing )".to_string());
    }
    *pos += 1;
    Ok(Atom::Group(inner))
}

fn parse_class(chars: &[char], pos: &mut usize) -> Result<Atom, String> {
    let negated = chars.get(*pos) == Some(&'^');
    if negated {
        *pos += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(*pos).ok_or("missing closing ]")?;
        *pos += 1;
        if c == ']' && !ranges.is_empty() {
            return Ok(Atom::Class { negated, ranges });
        }
        let low = if c == '\\' { escaped(chars, pos)? } else { c };
        let is_range =
            chars.get(*pos) == Some(&'-') && chars.get(*pos + 1).is_some_and(|c| *c != ']');
        if is_range {
            ranges.push((low, chars[*pos + 1]));
            *pos += 2;
        } else {
            ranges.push((low, low));
        }
    }
}

fn escaped(chars: &[char], pos: &mut usize) -> Result<char, String> {
    let c = *chars.get(*pos).ok_or("trailing backslash")?;
    *pos += 1;
    Ok(c)
}

fn parse_repeat(chars: &[char], pos: &mut usize) -> Repeat {
    let repeat = match chars.get(*pos) {
        Some('*') => Repeat::ZeroOrMore,
        Some('+') => Repeat::OneOrMore,
        Some('?') => Repeat::ZeroOrOne,
        _ => return Repeat::One,
    };
    *pos += 1;
    repeat
}

/// Every position where a match of `alternation` starting at `start` can end.
fn ends_of_alternation(alternation: &Alternation, text: &[char], start: usize) -> BTreeSet<usize> {
    alternation
        .0
        .iter()
        .flat_map(|seq| ends_of_sequence(seq, text, start))
        .collect()
}

fn ends_of_sequence(sequence: &Sequence, text: &[char], start: usize) -> BTreeSet<usize> {
    let mut positions = BTreeSet::from([start]);
    for (atom, repeat) in sequence {
        positions = positions
            .iter()
            .flat_map(|&p| ends_of_repeat(atom, *repeat, text, p))
            .collect();
        if positions.is_empty() {
            break;
        }
    }
    positions
}

fn ends_of_repeat(atom: &Atom, repeat: Repeat, text: &[char], start: usize) -> BTreeSet<usize> {
    let once = |from: &BTreeSet<usize>| -> BTreeSet<usize> {
        from.iter()
            .flat_map(|&p| ends_of_atom(atom, text, p))
            .collect()
    };
    let first = BTreeSet::from([start]);
    match repeat {
        Repeat::One => once(&first),
        Repeat::ZeroOrOne => once(&first).union(&first).copied().collect(),
        Repeat::ZeroOrMore | Repeat::OneOrMore => {
            let mut reached = if matches!(repeat, Repeat::ZeroOrMore) {
                first.clone()
            } else {
                BTreeSet::new()
            };
            let mut frontier = once(&first);
            while !frontier.is_subset(&reached) {
                reached.extend(frontier.iter().copied());
                frontier = once(&frontier);
            }
            reached
        }
    }
}

fn ends_of_atom(atom: &Atom, text: &[char], at: usize) -> BTreeSet<usize> {
    let next = text.get(at);
    let hit = match atom {
        Atom::Start => {
            return if at == 0 {
                BTreeSet::from([at])
            } else {
                BTreeSet::new()
            }
        }
        Atom::End => {
            return if at == text.len() {
                BTreeSet::from([at])
            } else {
                BTreeSet::new()
            }
        }
        Atom::Group(inner) => return ends_of_alternation(inner, text, at),
        Atom::Char(c) => next == Some(c),
        Atom::Any => next.is_some_and(|c| *c != '\n'),
        Atom::Class { negated, ranges } => next.is_some_and(|c| {
            ranges.iter().any(|(low, high)| (low..=high).contains(&c)) != *negated
        }),
    };
    if hit {
        BTreeSet::from([at + 1])
    } else {
        BTreeSet::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::parse(pattern).unwrap().is_match(text)
    }

    #[test]
    fn unanchored_like_go() {
        assert!(matches("alive", "alive"));
        assert!(matches("liv", "alive"));
        assert!(!matches("^liv", "alive"));
        assert!(matches("^left$", "left"));
        assert!(!matches("^lef$", "left"));
        assert!(matches(".*", "anything"));
        assert!(matches("", "anything"));
    }

    #[test]
    fn alternation_groups_classes_repeats() {
        assert!(matches("alive|failed", "failed"));
        assert!(!matches("^(alive|failed)$", "left"));
        assert!(matches("^(alive|failed)$", "alive"));
        assert!(matches("^fa[a-z]+d$", "failed"));
        assert!(matches("^[^x]eft$", "left"));
        assert!(matches("^le?ft$", "lft"));
        assert!(matches("^l(ea)*ft$", "leaeaft"));
        assert!(!matches("^a+$", ""));
        assert!(matches("a\\.b", "a.b"));
        assert!(!matches("a\\.b", "axb"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Pattern::parse("(alive").is_err());
        assert!(Pattern::parse("*x").is_err());
        assert!(Pattern::parse("[ab").is_err());
        assert!(Pattern::parse("a)").is_err());
    }
}
