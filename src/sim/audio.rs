//! Recording audio made on demand: a real WAV file (RIFF header, 8 kHz, 16-bit, mono PCM) holding a
//! quiet tone with a little noise. Any byte range is computed from the recording's id and length
//! alone, so a 200 MB recording costs no memory and every read of a range returns the same bytes.

use std::ops::Range;
use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Telephone-quality PCM: 8000 samples a second.
pub const SAMPLE_RATE: u32 = 8_000;
/// Bytes per sample (16-bit mono).
pub const BYTES_PER_SAMPLE: u32 = 2;
/// Bytes of audio per second of recording.
pub const BYTES_PER_SECOND: u64 = (SAMPLE_RATE * BYTES_PER_SAMPLE) as u64;
/// Length of the canonical 44-byte RIFF/WAVE header.
pub const WAV_HEADER_LEN: u64 = 44;
/// The content type recordings are served with.
pub const CONTENT_TYPE: &str = "audio/wav";

/// The frequency of the tone in Hz. It divides the sample rate's one-second period evenly, so one
/// second of samples repeats seamlessly.
const TONE_HZ: f64 = 440.0;

/// One second of PCM (little-endian 16-bit samples), computed once and shared by every recording.
fn pcm_period() -> &'static [u8] {
    static PERIOD: OnceLock<Vec<u8>> = OnceLock::new();
    PERIOD.get_or_init(|| {
        // A fixed seed: the noise is part of the format, not of any world's randomness.
        let mut noise = ChaCha8Rng::seed_from_u64(0x5eed_a0d1);
        let mut bytes = Vec::with_capacity(BYTES_PER_SECOND as usize);
        for n in 0..SAMPLE_RATE {
            let phase =
                2.0 * std::f64::consts::PI * TONE_HZ * f64::from(n) / f64::from(SAMPLE_RATE);
            // Quiet: about -30 dBFS of tone plus a faint hiss.
            let sample = (phase.sin() * 900.0) as i16 + noise.random_range(-120i16..=120);
            bytes.extend_from_slice(&sample.to_le_bytes());
        }
        bytes
    })
}

/// The total file length for a recording of `seconds` of audio.
pub fn wav_len_for_seconds(seconds: u64) -> u64 {
    WAV_HEADER_LEN + seconds * BYTES_PER_SECOND
}

/// The largest valid WAV length not above `len`: the header plus a whole number of samples.
/// Returns `None` when `len` cannot hold the header.
pub fn valid_wav_len(len: u64) -> Option<u64> {
    if len < WAV_HEADER_LEN {
        return None;
    }
    let data = len - WAV_HEADER_LEN;
    Some(WAV_HEADER_LEN + data - data % u64::from(BYTES_PER_SAMPLE))
}

/// The 44-byte header of a WAV file `total_len` bytes long.
fn header(total_len: u64) -> [u8; WAV_HEADER_LEN as usize] {
    // RIFF sizes are 32-bit; a recording larger than 4 GiB saturates them, as real encoders do.
    let riff_size = u32::try_from(total_len - 8).unwrap_or(u32::MAX);
    let data_size = u32::try_from(total_len - WAV_HEADER_LEN).unwrap_or(u32::MAX);
    let mut h = [0u8; WAV_HEADER_LEN as usize];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&riff_size.to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(SAMPLE_RATE * BYTES_PER_SAMPLE).to_le_bytes());
    h[32..34].copy_from_slice(&(BYTES_PER_SAMPLE as u16).to_le_bytes()); // block align
    h[34..36].copy_from_slice(&16u16.to_le_bytes()); // bits per sample
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_size.to_le_bytes());
    h
}

/// Bytes `range` of the WAV file of a recording `total_len` bytes long whose audio starts at
/// sample `phase` of the shared period (so different recordings do not start identically).
/// Returns `None` when the range is empty-inverted or reaches past the end.
pub fn wav_bytes(total_len: u64, phase: u64, range: Range<u64>) -> Option<Vec<u8>> {
    if range.start > range.end || range.end > total_len || total_len < WAV_HEADER_LEN {
        return None;
    }
    let mut out = Vec::with_capacity(usize::try_from(range.end - range.start).ok()?);
    let mut pos = range.start;
    if pos < WAV_HEADER_LEN {
        let head = header(total_len);
        let head_end = range.end.min(WAV_HEADER_LEN);
        out.extend_from_slice(&head[pos as usize..head_end as usize]);
        pos = head_end;
    }
    let period = pcm_period();
    let period_len = period.len() as u64;
    let phase_bytes = (phase % u64::from(SAMPLE_RATE)) * u64::from(BYTES_PER_SAMPLE);
    while pos < range.end {
        let offset = ((pos - WAV_HEADER_LEN) + phase_bytes) % period_len;
        let take = (period_len - offset).min(range.end - pos);
        out.extend_from_slice(&period[offset as usize..(offset + take) as usize]);
        pos += take;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_describes_8khz_16bit_mono_pcm_of_the_promised_length() {
        let len = wav_len_for_seconds(3);
        let bytes = wav_bytes(len, 0, 0..len).unwrap();
        assert_eq!(bytes.len() as u64, len);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as u64,
            len - 8
        );
        assert_eq!(&bytes[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 1, "PCM");
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1, "mono");
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 8000);
        assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 16);
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(
            u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as u64,
            len - 44
        );
    }

    #[test]
    fn any_range_equals_the_same_slice_of_the_whole() {
        let len = wav_len_for_seconds(2) + 10;
        let whole = wav_bytes(len, 1234, 0..len).unwrap();
        for (start, end) in [
            (0, 1),
            (3, 50),
            (43, 45),
            (44, 16_044),
            (16_000, len),
            (len, len),
        ] {
            let part = wav_bytes(len, 1234, start..end).unwrap();
            assert_eq!(
                part,
                whole[start as usize..end as usize],
                "range {start}..{end}"
            );
        }
    }

    #[test]
    fn audio_is_quiet_but_not_silent() {
        let len = wav_len_for_seconds(1);
        let bytes = wav_bytes(len, 0, WAV_HEADER_LEN..len).unwrap();
        let samples: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 500 && peak < 2000, "peak {peak}");
    }

    #[test]
    fn out_of_bounds_ranges_are_refused() {
        let len = wav_len_for_seconds(1);
        assert!(wav_bytes(len, 0, 0..len + 1).is_none());
        assert!(wav_bytes(len, 0, std::ops::Range { start: 10, end: 5 }).is_none());
    }

    #[test]
    fn valid_lengths_hold_whole_samples() {
        assert_eq!(valid_wav_len(43), None);
        assert_eq!(valid_wav_len(44), Some(44));
        assert_eq!(valid_wav_len(47), Some(46));
        assert_eq!(valid_wav_len(200_000_000), Some(200_000_000));
    }
}
