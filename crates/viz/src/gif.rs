//! Animated GIFs (latent traversals) and in-memory PNG encoding (for embedding in HTML).
//!
//! GIF is used for animations because every browser and Markdown viewer plays it without
//! plugins. Frames are quantised by the `gif` crate: exact palettes when a frame has ≤ 256
//! colours (typical for traversals of binary-ish datasets), NeuQuant otherwise, at speed 10,
//! which is far faster than the best-quality setting and visually indistinguishable here.
//! GIF delays are in hundredths of a second, so `delay_ms` is rounded to a multiple of 10 ms.

use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbImage};


#[derive(Debug, thiserror::Error)]
pub enum GifError {
    #[error("a GIF needs at least one frame")]
    NoFrames,
    #[error("frame {index} is {got:?}, but frame 0 is {expected:?}")]
    FrameSize { index: usize, expected: (u32, u32), got: (u32, u32) },
    #[error("frames of {0:?} pixels cannot be stored in a GIF (1..=65535 per side)")]
    BadSize((u32, u32)),
    #[error("encoding GIF: {0}")]
    Encode(#[source] image::ImageError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Encodes an animated, infinitely looping GIF of `frames` into memory.
pub fn encode_gif(frames: &[RgbImage], delay_ms: u32) -> Result<Vec<u8>, GifError> {
    let first = frames.first().ok_or(GifError::NoFrames)?;
    let size = first.dimensions();
    if size.0 == 0 || size.1 == 0 || size.0 > u16::MAX as u32 || size.1 > u16::MAX as u32 {
        return Err(GifError::BadSize(size));
    }
    if let Some((index, f)) = frames.iter().enumerate().find(|(_, f)| f.dimensions() != size) {
        return Err(GifError::FrameSize { index, expected: size, got: f.dimensions() });
    }
    let mut bytes = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut bytes, 10);
        enc.set_repeat(Repeat::Infinite).map_err(GifError::Encode)?;
        let delay = Delay::from_numer_denom_ms(delay_ms, 1);
        enc.encode_frames(
            frames.iter().map(|f| Frame::from_parts(image::DynamicImage::ImageRgb8(f.clone()).to_rgba8(), 0, 0, delay)),
        )
        .map_err(GifError::Encode)?;
    }
    Ok(bytes)
}

/// Writes an animated, infinitely looping GIF of `frames` (all the same size) with `delay_ms` per
/// frame, atomically (temporary file beside `path`, then rename).
pub fn save_gif(frames: &[RgbImage], delay_ms: u32, path: &Path) -> Result<(), GifError> {
    let bytes = encode_gif(frames, delay_ms)?;
    disentangle_data::atomic::write_atomic(path, &bytes).map_err(|source| GifError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::AnimationDecoder;
    use image::codecs::gif::GifDecoder;

    fn frame(v: u8) -> RgbImage {
        RgbImage::from_fn(12, 7, |x, y| image::Rgb([v, (x * 20) as u8, (y * 30) as u8]))
    }

    #[test]
    fn gif_round_trips_frames_sizes_and_delay() {
        let frames: Vec<_> = (0..5).map(|i| frame(i * 50)).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.gif");
        save_gif(&frames, 120, &p).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        let dec = GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&p).unwrap())).unwrap();
        let back = dec.into_frames().collect_frames().unwrap();
        assert_eq!(back.len(), 5);
        for (f, orig) in back.iter().zip(&frames) {
            assert_eq!(f.buffer().dimensions(), (12, 7));
            assert_eq!(f.delay().numer_denom_ms(), (120, 1));
            // Few colours per frame → exact palette → lossless.
            assert_eq!(&image::DynamicImage::ImageRgba8(f.buffer().clone()).to_rgb8(), orig);
        }
        let bytes = std::fs::read(&p).unwrap();
        assert!(bytes.windows(11).any(|w| w == b"NETSCAPE2.0"), "looping extension present");
    }

    #[test]
    fn gif_rejects_bad_input() {
        assert!(matches!(save_gif(&[], 100, Path::new("/nonexistent/x.gif")), Err(GifError::NoFrames)));
        let odd = [frame(0), RgbImage::new(3, 3)];
        assert!(matches!(encode_gif(&odd, 100), Err(GifError::FrameSize { index: 1, .. })));
        assert!(matches!(save_gif(&[frame(0)], 100, Path::new("/nonexistent-dir/x.gif")), Err(GifError::Io { .. })));
    }

    #[test]
    fn png_bytes_decode_back() {
        let img = frame(7);
        let png = crate::grid::encode_png(&img).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert_eq!(image::load_from_memory(&png).unwrap().to_rgb8(), img);
    }
}
