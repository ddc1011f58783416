//! Text helpers shared by the engine's commands and show summaries (below both, so neither
//! imports the other for them).

/// `text` cut to at most `max` bytes (at a char boundary), with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
