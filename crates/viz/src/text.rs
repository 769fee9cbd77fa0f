//! Text rasterised straight into `RgbImage`s, and grids with row labels.
//!
//! Glyphs are rasterised with `ab_glyph` (pure Rust, no system font lookup) from the embedded
//! DejaVu Sans and alpha-blended by coverage, so small labels stay legible and anti-aliased.
//! `px` is ab_glyph's pixel scale: the distance from the font's ascent to its descent, so a line
//! of text occupies exactly `px` pixels of height and (x, y) is the top-left of that box.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(crate::FONT_BYTES).expect("embedded DejaVuSans.ttf is a valid font"))
}

/// Horizontal advance of one line of text, in (fractional) pixels, kerning included.
fn line_advance(line: &str, px: f32) -> f32 {
    let f = font().as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut prev: Option<GlyphId> = None;
    for c in line.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Height of one line of text (ascent − descent + line gap) at `px`.
pub(crate) fn line_height(px: f32) -> f32 {
    let f = font().as_scaled(PxScale::from(px));
    f.height() + f.line_gap()
}

/// Width in pixels of `text` drawn at pixel height `px` (the widest line if it has several).
pub fn text_width(text: &str, px: f32) -> u32 {
    if px.is_nan() || px <= 0.0 {
        return 0;
    }
    text.lines().map(|l| line_advance(l, px)).fold(0.0f32, f32::max).ceil() as u32
}

/// Draws `text` onto `img` at pixel (x, y) (top-left of the text box) in `color` with pixel height `px`.
/// Pixels are blended by glyph coverage; anything falling outside the image is clipped.
/// A `\n` starts a new line one line height further down.
pub fn draw_text(img: &mut RgbImage, text: &str, x: i32, y: i32, px: f32, color: [u8; 3]) {
    if !px.is_finite() || px <= 0.0 {
        return;
    }
    let scale = PxScale::from(px);
    let f = font().as_scaled(scale);
    let (w, h) = (img.width() as i64, img.height() as i64);
    for (k, line) in text.lines().enumerate() {
        let baseline = y as f32 + k as f32 * line_height(px) + f.ascent();
        let mut caret = x as f32;
        let mut prev: Option<GlyphId> = None;
        for c in line.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                caret += f.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(scale, point(caret, baseline));
            caret += f.h_advance(id);
            let Some(outline) = font().outline_glyph(glyph) else { continue };
            let b = outline.px_bounds();
            let (x0, y0) = (b.min.x as i64, b.min.y as i64);
            outline.draw(|gx, gy, cov| {
                let (px_, py_) = (x0 + gx as i64, y0 + gy as i64);
                if px_ < 0 || py_ < 0 || px_ >= w || py_ >= h {
                    return;
                }
                let a = cov.clamp(0.0, 1.0);
                let p = img.get_pixel_mut(px_ as u32, py_ as u32);
                for (channel, &c) in p.0.iter_mut().zip(&color) {
                    let v = *channel as f32 * (1.0 - a) + c as f32 * a;
                    *channel = v.round().clamp(0.0, 255.0) as u8;
                }
            });
        }
    }
}

/// Padding (pixels) around labels and the caption.
const PAD: u32 = 6;

/// Returns a new image: `labels[i]` written to the left of row i of `img`, an image made of `rows`
/// equal-height rows laid out as [`crate::ImageGrid`] lays them out (a `gap` above, between and
/// below the rows, so row height = (img.height() − (rows+1)·gap)/rows and row i starts at
/// gap + i·(row height + gap)). White background; the label column is wide enough for the longest
/// label; labels are right-aligned next to the image and vertically centred on their row. Missing
/// or empty labels leave their row blank; labels beyond `rows` are ignored. An optional caption
/// line goes on top (shrunk, down to 8 px, to fit the output width). The output width is always
/// label column + `img.width()`.
pub fn label_rows(img: &RgbImage, rows: usize, gap: u32, labels: &[String], caption: Option<&str>) -> RgbImage {
    let rows = rows.max(1) as u32;
    let (iw, ih) = img.dimensions();
    let outer = (rows + 1) * gap;
    // Fall back to gap-free rows if the gap cannot fit (not an ImageGrid image).
    let (gap, row_h) = if outer < ih { (gap, (ih - outer) / rows) } else { (0, ih / rows) };
    let px = (row_h as f32 * 0.4).clamp(10.0, 16.0);
    let used = &labels[..labels.len().min(rows as usize)];
    let longest = used.iter().map(|l| text_width(l, px)).max().unwrap_or(0);
    let col = if longest == 0 { 0 } else { longest + 2 * PAD };
    let out_w = col + iw;

    let caption = caption.filter(|c| !c.trim().is_empty());
    let mut cap_px = 16.0f32;
    if let Some(c) = caption {
        while cap_px > 8.0 && text_width(c, cap_px) + 2 * PAD > out_w {
            cap_px -= 0.5;
        }
    }
    let cap_h = if caption.is_some() { (line_height(cap_px) * c_lines(caption)).ceil() as u32 + PAD } else { 0 };

    let mut out = RgbImage::from_pixel(out_w, ih + cap_h, Rgb([255, 255, 255]));
    image::imageops::replace(&mut out, img, col as i64, cap_h as i64);
    if let Some(c) = caption {
        draw_text(&mut out, c, PAD as i32, (PAD / 2) as i32, cap_px, [0, 0, 0]);
    }
    for (i, label) in used.iter().enumerate() {
        if label.is_empty() {
            continue;
        }
        let block_h = line_height(px) * label.lines().count().max(1) as f32 - (line_height(px) - px);
        let top = cap_h as f32 + gap as f32 + i as f32 * (row_h + gap) as f32 + (row_h as f32 - block_h) / 2.0;
        for (k, line) in label.lines().enumerate() {
            let x = col as i32 - PAD as i32 - text_width(line, px) as i32;
            draw_text(&mut out, line, x, (top + k as f32 * line_height(px)).round() as i32, px, [0, 0, 0]);
        }
    }
    out
}

fn c_lines(c: Option<&str>) -> f32 {
    c.map_or(0, |c| c.lines().count().max(1)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_inside_its_box_and_width_grows_with_length() {
        let mut img = RgbImage::from_pixel(200, 40, Rgb([255, 255, 255]));
        draw_text(&mut img, "Hello, γ=30", 5, 10, 16.0, [0, 0, 0]);
        let w = text_width("Hello, γ=30", 16.0);
        assert!(w > 60 && w < 150, "{w}");
        assert!(text_width("ab", 16.0) < text_width("abab", 16.0));
        assert_eq!(text_width("", 16.0), 0);
        let mut dark = 0;
        for (x, y, p) in img.enumerate_pixels() {
            if p.0[0] < 128 {
                dark += 1;
                assert!((5..=5 + w + 1).contains(&x) && (10..=26).contains(&y), "ink at ({x},{y})");
            }
        }
        assert!(dark > 50, "{dark}");
        // Clipping: drawing far outside must not panic.
        draw_text(&mut img, "x", -100, -100, 30.0, [0, 0, 0]);
        draw_text(&mut img, "x", 195, 35, 30.0, [0, 0, 0]);
    }
}
