//! Show sources for tests and benchmarks in other crates (feature `testing`; not part of the
//! default API).

/// A valid show that takes a while to check: 64 zones of slow soft chases, `cues` cues. Used
/// to exercise the daemons' compile budgets (beacon `load`, the portal's catalog).
pub fn heavy_show(cues: usize) -> String {
    let zones: Vec<String> = (0..64).map(|i| format!("\"z{i}\"")).collect();
    let mut s = format!("title = \"heavy\"\nzones = [{}]\n", zones.join(", "));
    for c in 0..cues {
        s += &format!(
            "[[cue]]\nname = \"c{c}\"\n[[cue.segment]]\nkind = \"chase\"\ncolour = \"white\"\n\
             period = {}\noffset = 7\ndur = 8000\n",
            1000 + c
        );
    }
    s
}
