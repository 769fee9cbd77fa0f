//! Bit-packed storage for binary images: one bit per pixel, so all 737,280 dSprites
//! images take 377 MB instead of 3 GB.

/// `n` binary images of `h`×`w` pixels, row-major, one bit per pixel.
#[derive(Debug, Clone)]
pub struct BinaryImages {
    n: usize,
    h: usize,
    w: usize,
    words_per_image: usize,
    bits: Vec<u64>,
}

impl BinaryImages {
    pub fn zeros(n: usize, h: usize, w: usize) -> Self {
        let words_per_image = (h * w).div_ceil(64);
        BinaryImages {
            n,
            h,
            w,
            words_per_image,
            bits: vec![0; n * words_per_image],
        }
    }
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn height(&self) -> usize {
        self.h
    }
    pub fn width(&self) -> usize {
        self.w
    }
    pub fn resident_bytes(&self) -> usize {
        self.bits.len() * 8
    }

    /// Sets image `i` from `h·w` bytes where non-zero means "on".
    pub fn set_from_bytes(&mut self, i: usize, pixels: &[u8]) {
        debug_assert_eq!(pixels.len(), self.h * self.w);
        let words = &mut self.bits[i * self.words_per_image..(i + 1) * self.words_per_image];
        pack_into(pixels, words);
    }

    /// Mutable packed words of image `i`, for parallel filling with [`pack_into`].
    pub fn chunks_mut(&mut self) -> std::slice::ChunksExactMut<'_, u64> {
        self.bits.chunks_exact_mut(self.words_per_image)
    }

    pub fn get(&self, i: usize, y: usize, x: usize) -> bool {
        let p = y * self.w + x;
        self.bits[i * self.words_per_image + p / 64] >> (p % 64) & 1 == 1
    }

    /// Writes image `i` as 0.0/1.0 values.
    pub fn write_f32(&self, i: usize, out: &mut [f32]) {
        let words = &self.bits[i * self.words_per_image..(i + 1) * self.words_per_image];
        for (p, o) in out.iter_mut().enumerate().take(self.h * self.w) {
            *o = (words[p / 64] >> (p % 64) & 1) as f32;
        }
    }

    /// Writes image `i` as 0/1 bytes.
    pub fn write_u8(&self, i: usize, out: &mut [u8]) {
        let words = &self.bits[i * self.words_per_image..(i + 1) * self.words_per_image];
        for (p, o) in out.iter_mut().enumerate().take(self.h * self.w) {
            *o = (words[p / 64] >> (p % 64) & 1) as u8;
        }
    }
}

/// Packs bytes (non-zero = on) into words, bit p of the image at word p/64, bit p%64.
pub fn pack_into(pixels: &[u8], words: &mut [u64]) {
    for (word, chunk) in words.iter_mut().zip(pixels.chunks(64)) {
        let mut v = 0u64;
        for (b, &px) in chunk.iter().enumerate() {
            v |= ((px != 0) as u64) << b;
        }
        *word = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_round_trip() {
        let (h, w) = (5, 13); // 65 pixels: crosses a word boundary
        let mut imgs = BinaryImages::zeros(3, h, w);
        let a: Vec<u8> = (0..h * w).map(|p| ((p * 7) % 3 == 0) as u8).collect();
        let b: Vec<u8> = (0..h * w).map(|p| (p == 64) as u8).collect();
        imgs.set_from_bytes(0, &a);
        imgs.set_from_bytes(2, &b);
        let mut out = vec![9u8; h * w];
        imgs.write_u8(0, &mut out);
        assert_eq!(out, a);
        imgs.write_u8(1, &mut out);
        assert!(out.iter().all(|&v| v == 0));
        let mut f = vec![0f32; h * w];
        imgs.write_f32(2, &mut f);
        assert_eq!(f.iter().filter(|&&v| v == 1.0).count(), 1);
        assert!(imgs.get(2, 4, 12));
        assert_eq!(imgs.resident_bytes(), 3 * 2 * 8);
    }
}
