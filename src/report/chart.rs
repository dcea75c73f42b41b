//! `trend.png`: the last 14 days as two bar panels — discrepancy count on top, amount at stake below
//! (one colour per currency, each scaled to its own 14-day maximum because currencies cannot be
//! added). Drawn pixel by pixel without fonts, so the bytes depend only on the data; the numbers and
//! the colour legend are in the HTML table under the image.

use super::Prepared;
use anyhow::{Context, Result};

pub const WIDTH: u32 = 560;
pub const HEIGHT: u32 = 240;
const LEFT: u32 = 14;
const SLOT: u32 = 38;
const TOP_PANEL: (u32, u32) = (12, 108);
const LOW_PANEL: (u32, u32) = (132, 228);

type Rgb = [u8; 3];
const BACKGROUND: Rgb = [255, 255, 255];
const AXIS: Rgb = [68, 68, 68];
const GRID: Rgb = [225, 225, 225];
const COUNT: Rgb = [192, 57, 43];
const NO_DATA: Rgb = [190, 190, 190];
const TODAY: Rgb = [250, 240, 200];
/// Colours of the first currencies (alphabetical); the HTML legend uses the same list.
pub const CURRENCY_COLOURS: [Rgb; 4] = [[46, 134, 193], [40, 180, 99], [214, 137, 16], [125, 60, 152]];

struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas { px: BACKGROUND.repeat((WIDTH * HEIGHT) as usize) }
    }

    /// Fills [x0, x1) × [y0, y1), clipped to the canvas.
    fn rect(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb) {
        for y in y0.min(HEIGHT)..y1.min(HEIGHT) {
            for x in x0.min(WIDTH)..x1.min(WIDTH) {
                let i = ((y * WIDTH + x) * 3) as usize;
                self.px[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            // Flat colour areas compress well; the encoder's output is a pure function of the pixels.
            enc.set_compression(png::Compression::Best);
            let mut w = enc.write_header().context("PNG header")?;
            w.write_image_data(&self.px).context("PNG data")?;
            w.finish().context("PNG end")?;
        }
        Ok(out)
    }
}

/// Bar height in pixels for `v` of `max` in a panel `h` pixels high; any non-zero value gets ≥ 2 px
/// so a small problem is never invisible.
fn bar(v: i64, max: i64, h: u32) -> u32 {
    if v <= 0 || max <= 0 {
        return 0;
    }
    let scaled = (v as i128 * h as i128 / max as i128) as u32;
    scaled.clamp(2, h)
}

fn panel_frame(c: &mut Canvas, (top, bottom): (u32, u32)) {
    let right = LEFT + SLOT * super::TREND_DAYS as u32;
    // Quarter grid lines, then the axes over them.
    for q in 1..4 {
        let y = bottom - (bottom - top) * q / 4;
        c.rect(LEFT, y, right, y + 1, GRID);
    }
    c.rect(LEFT - 2, top, LEFT, bottom + 1, AXIS);
    c.rect(LEFT - 2, bottom, right, bottom + 2, AXIS);
}

pub fn trend_png(p: &Prepared) -> Result<Vec<u8>> {
    let mut c = Canvas::new();
    let codes: Vec<&String> = p.currencies.keys().take(CURRENCY_COLOURS.len()).collect();
    let max_count = p.trend.iter().filter_map(|(_, t)| t.map(|t| t.discrepancies)).max().unwrap_or(0);
    let max_stake: Vec<i64> = codes
        .iter()
        .map(|code| {
            p.trend.iter().filter_map(|(_, t)| t.and_then(|t| t.at_stake.get(*code)).copied()).max().unwrap_or(0)
        })
        .collect();

    // The report's own day is the last slot; shade it so the eye finds "today".
    let last = LEFT + SLOT * (super::TREND_DAYS as u32 - 1);
    c.rect(last, TOP_PANEL.0, last + SLOT, TOP_PANEL.1, TODAY);
    c.rect(last, LOW_PANEL.0, last + SLOT, LOW_PANEL.1, TODAY);
    panel_frame(&mut c, TOP_PANEL);
    panel_frame(&mut c, LOW_PANEL);

    for (i, (_, point)) in p.trend.iter().enumerate() {
        let x = LEFT + SLOT * i as u32;
        let Some(t) = point else {
            // No report for that day: a grey dash on both baselines.
            c.rect(x + 8, TOP_PANEL.1 - 3, x + SLOT - 8, TOP_PANEL.1 - 1, NO_DATA);
            c.rect(x + 8, LOW_PANEL.1 - 3, x + SLOT - 8, LOW_PANEL.1 - 1, NO_DATA);
            continue;
        };
        let h = bar(t.discrepancies, max_count, TOP_PANEL.1 - TOP_PANEL.0);
        c.rect(x + 6, TOP_PANEL.1 - h, x + SLOT - 6, TOP_PANEL.1, COUNT);
        if codes.is_empty() {
            continue;
        }
        let inner = SLOT - 8;
        let w = (inner / codes.len() as u32).max(1);
        for (k, code) in codes.iter().enumerate() {
            let v = t.at_stake.get(*code).copied().unwrap_or(0);
            let h = bar(v, max_stake[k], LOW_PANEL.1 - LOW_PANEL.0);
            let bx = x + 4 + w * k as u32;
            c.rect(bx + 1, LOW_PANEL.1 - h, bx + w - 1, LOW_PANEL.1, CURRENCY_COLOURS[k]);
        }
    }
    c.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_heights() {
        assert_eq!(bar(0, 10, 96), 0);
        assert_eq!(bar(10, 10, 96), 96);
        assert_eq!(bar(5, 10, 96), 48);
        assert_eq!(bar(1, 1_000_000, 96), 2, "tiny values stay visible");
        assert_eq!(bar(i64::MAX, i64::MAX, 96), 96, "no overflow");
        assert_eq!(bar(-3, 10, 96), 0);
    }
}
