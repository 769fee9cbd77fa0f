//! The latent explorer (`visualize --explore`) in a real browser: headless Chromium loads the
//! page from disk with networking logged, a scripted slider move (the page's `#base=…&z=…&step=…`
//! fragment fires the slider's input event) changes the displayed image — in the DOM and in
//! the pixels of a screenshot — the heatmap's colours are on screen, and no request leaves
//! the page.
//!
//! Chromium: `$DISENTANGLE_CHROMIUM`, else `chromium`, `chromium-browser` or `google-chrome` on
//! PATH. Without one the test says it is skipped — unless `DISENTANGLE_REQUIRE_BROWSER_TESTS=1`
//! (set by `.ci/run`, which installs Debian's `chromium`): then a missing browser is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn disentangle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_disentangle")).args(args).env_remove("DISENTANGLE_DATA").output().expect("runs")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("DISENTANGLE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `url` with `extra` flags; its own profile folder, no background
/// traffic of its own (so the network log holds only what the page asks for).
fn browse(browser: &Path, profile: &Path, url: &str, extra: &[String]) -> Output {
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--hide-scrollbars".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-default-apps".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--force-device-scale-factor=1".into(),
        "--window-size=1100,1000".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    args.extend(extra.iter().cloned());
    args.push(url.to_string());
    let out = Command::new(browser).args(&args).output().expect("chromium runs");
    assert!(out.status.success(), "chromium failed on {url}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn screenshot(browser: &Path, profile: &Path, url: &str, png: &Path) -> image::RgbImage {
    browse(browser, profile, url, &[format!("--screenshot={}", png.display())]);
    image::open(png).unwrap().to_rgb8()
}

#[test]
fn the_explorer_works_in_a_real_browser_offline() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("DISENTANGLE_REQUIRE_BROWSER_TESTS").as_deref() != Ok("1"),
            "DISENTANGLE_REQUIRE_BROWSER_TESTS=1 but no Chromium (apt install chromium, or set DISENTANGLE_CHROMIUM)"
        );
        eprintln!("skipped: no Chromium on PATH (apt install chromium, or set DISENTANGLE_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // Long enough that the decoder's output depends on the code.
    ok(disentangle(&[
        "train", "--dataset", "dsprites", "--model", "vae", "--latents", "4", "--batch-size", "16", "--steps", "150",
        "--summary-batches", "1", "--quiet", "--out", &p("run"),
    ]));
    let out = ok(disentangle(&["visualize", &p("run"), "--out", &p("pics"), "--explore", "--explore-bases", "2", "--explore-steps", "7", "--kl-samples", "200"]));
    assert!(out.contains("explorer.html") && out.contains("84 frames"), "{out}");
    let page = dir.path().join("pics/explorer.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "the page names a network address");

    // The frames the page holds, from its own data block.
    let start = html.find("<script id=\"data\" type=\"application/json\">").unwrap();
    let json = &html[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    let data: serde_json::Value = serde_json::from_str(json).unwrap();
    let first = data["latents"][0]["index"].as_u64().unwrap();
    let frames = data["bases"][0]["frames"][0].as_array().unwrap();
    let recon = data["bases"][0]["reconstruction"].as_str().unwrap();
    // The step whose frame differs from the base reconstruction (the slider's far end, or the other).
    let step = [frames.len() - 1, 0].into_iter().find(|&s| frames[s].as_str().unwrap() != recon).expect("a frame that differs from the base");
    let url = format!("file://{}", page.display());
    let moved = format!("{url}#base=0&z={first}&step={step}");
    let profile = dir.path().join("profile");

    // The DOM after the scripted move shows that frame.
    let dom = String::from_utf8(browse(&browser, &profile, &moved, &["--dump-dom".into()]).stdout).unwrap();
    let at = dom.find("id=\"view\"").expect("the view image");
    let tag_start = dom[..at].rfind('<').unwrap();
    let view = &dom[tag_start..at + dom[at..].find('>').unwrap()];
    assert!(view.contains(&format!("data-frame=\"0:{first}:{step}\"")), "{view}");
    assert!(view.contains(frames[step].as_str().unwrap()), "the view does not show the moved frame");
    assert!(dom.contains(&format!("z{first} = ")), "the caption does not name the moved latent");

    // Pixels: the image area differs between the page as loaded and after the move.
    let (a, b) = (screenshot(&browser, &profile, &url, &dir.path().join("a.png")), screenshot(&browser, &profile, &moved, &dir.path().join("b.png")));
    assert_eq!(a.dimensions(), b.dimensions());
    // #view sits at the top left (16 px margin, under the title): compare well inside it.
    let changed = (30..260u32).flat_map(|y| (70..290u32).map(move |x| (x, y))).filter(|&(x, y)| a.get_pixel(x, y) != b.get_pixel(x, y)).count();
    assert!(changed > 20, "the slider move changed {changed} pixels of the image");
    // The heatmap: its cells' colours, taken from the page, are on screen.
    let colours: Vec<[u8; 3]> = html
        .match_indices("<td style=\"background:#")
        .map(|(i, m)| {
            let hex = &html[i + m.len()..i + m.len() + 6];
            std::array::from_fn(|k| u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).unwrap())
        })
        .collect();
    assert_eq!(colours.len(), 4 * 5, "4 latents × 5 factors");
    let painted = a.pixels().filter(|px| colours.contains(&px.0)).count();
    assert!(painted > 20 * 200, "only {painted} pixels in heatmap colours");

    // Networking: no request starts on the page's behalf. The browser's own background
    // traffic (time, update checks) carries no page origin ("not an origin"); a request the
    // page makes carries its origin ("null" for a file). A control page that does fetch
    // something shows that the check sees such requests.
    let control = dir.path().join("control.html");
    std::fs::write(&control, "<html><body><img src=\"http://192.0.2.1/x.png\"></body></html>").unwrap();
    assert_eq!(page_requests(&browser, &dir.path().join("profile-control"), &format!("file://{}", control.display()), &dir.path().join("control.json")), vec!["http://192.0.2.1/x.png"]);
    let requests = page_requests(&browser, &dir.path().join("profile-net"), &moved, &dir.path().join("net.json"));
    assert!(requests.is_empty(), "the page made requests: {requests:?}");
}

/// URLs of the requests a page starts while it loads and runs, from Chromium's network log.
fn page_requests(browser: &Path, profile: &Path, url: &str, log: &Path) -> Vec<String> {
    browse(browser, profile, url, &[format!("--log-net-log={}", log.display()), "--dump-dom".into()]);
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(log).unwrap()).unwrap();
    let start_job = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| &e["type"] == start_job)
        .filter(|e| e["params"]["initiator"].as_str().is_some_and(|i| i != "not an origin"))
        .map(|e| e["params"]["url"].as_str().unwrap_or_default().to_string())
        .collect()
}
