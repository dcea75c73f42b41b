//! `trend.png`: the last 14 days as stacked panels sharing one date axis — discrepancies per day on
//! top, then one panel per currency for the amount at stake (currencies cannot be added, so each has
//! its own scale, and each panel says which: "AT STAKE, HKD (0 TO 600)" with ticks on its y axis).
//! The report's own day is shaded, its date is drawn inverted, and its value is written at the right
//! of every panel's title. Text is drawn with the embedded 5×7 bitmap font below — no system fonts —
//! so the bytes depend only on the data; the numbers are also in the HTML table under the image.
//! `trend-narrow.png` ([`NARROW`]) is the same chart for a phone: narrower columns, the title's value
//! on a line of its own, a date every fourth day, and the same 14 px letters.

use super::Prepared;
use crate::domain::group_minor as money;
use crate::domain::Currency;
use anyhow::{Context, Result};

/// Currencies past this many are in the HTML table only (the chart would get too tall for an email).
pub const MAX_CURRENCY_PANELS: usize = 4;
const TOP: u32 = 8;
const PLOT_H: u32 = 80;
const PANEL_GAP: u32 = 14;
const X_LABELS_H: u32 = 24;

/// The geometry of one variant of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub width: u32,
    /// x of the y axis (tick labels are left of it).
    left: u32,
    /// Width of one day's column.
    slot: u32,
    /// Space left and right of a bar, and of a "no report" dash, in its column.
    bar_margin: u32,
    dash_margin: u32,
    /// Title and last value on one line (wide) or the value on a second line under the title.
    two_line_title: bool,
    /// A date label every this many days back from the report's day.
    label_step: usize,
}

impl Layout {
    fn title_h(&self) -> u32 {
        if self.two_line_title {
            26 + GLYPH_H + 4
        } else {
            26
        }
    }
    fn panel_h(&self) -> u32 {
        self.title_h() + PLOT_H + PANEL_GAP
    }
}

/// `trend.png`: the desktop and email chart, 640 px wide.
pub const WIDE: Layout =
    Layout { width: 640, left: 84, slot: 38, bar_margin: 7, dash_margin: 10, two_line_title: false, label_step: 2 };
/// `trend-narrow.png`: the same chart for a phone, 384 px wide, so that `report.html` at 420 px (388
/// px inside its padding) shows it at its own size and its text stays 14 px tall (the wide one scaled
/// to a phone is about 9 px).
pub const NARROW: Layout =
    Layout { width: 384, left: 66, slot: 21, bar_margin: 4, dash_margin: 5, two_line_title: true, label_step: 4 };
/// Font scale: 5×7 glyphs drawn at 10×14 px, 12 px apart.
const SCALE: u32 = 2;
const ADVANCE: u32 = 6 * SCALE;
const GLYPH_H: u32 = 7 * SCALE;

type Rgb = [u8; 3];
const BACKGROUND: Rgb = [255, 255, 255];
const AXIS: Rgb = [68, 68, 68];
const GRID: Rgb = [220, 220, 220];
const TEXT: Rgb = [34, 34, 34];
const COUNT: Rgb = [192, 57, 43];
const NO_DATA: Rgb = [170, 170, 170];
const TODAY: Rgb = [250, 238, 190];
/// Bar colours of the currency panels, in alphabetical order of the codes.
pub const CURRENCY_COLOURS: [Rgb; MAX_CURRENCY_PANELS] =
    [[46, 134, 193], [40, 160, 90], [200, 120, 10], [125, 60, 152]];

/// Width and height of the chart for this report (the height grows with the number of currencies).
pub fn size(p: &Prepared, l: &Layout) -> (u32, u32) {
    let panels = 1 + p.currencies.len().min(MAX_CURRENCY_PANELS) as u32;
    (l.width, TOP + panels * l.panel_h() - PANEL_GAP + X_LABELS_H)
}

struct Canvas {
    w: u32,
    h: u32,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Canvas {
        Canvas { w, h, px: BACKGROUND.repeat((w * h) as usize) }
    }

    /// Fills [x0, x1) × [y0, y1), clipped to the canvas.
    fn rect(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb) {
        for y in y0.min(self.h)..y1.min(self.h) {
            for x in x0.min(self.w)..x1.min(self.w) {
                let i = ((y * self.w + x) * 3) as usize;
                self.px[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    /// Draws `s` with its top-left corner at (x, y); returns the x after the text.
    fn text(&mut self, x: u32, y: u32, s: &str, c: Rgb) -> u32 {
        let mut cx = x;
        for ch in s.chars() {
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..5u32 {
                    if bits & (0x10 >> col) != 0 {
                        let (gx, gy) = (cx + col * SCALE, y + row as u32 * SCALE);
                        self.rect(gx, gy, gx + SCALE, gy + SCALE, c);
                    }
                }
            }
            cx += ADVANCE;
        }
        cx
    }

    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.w, self.h);
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

/// Width in pixels of `s` drawn by [`Canvas::text`] (without the gap after the last glyph).
fn text_width(s: &str) -> u32 {
    (s.chars().count() as u32 * ADVANCE).saturating_sub(SCALE)
}

/// The 5×7 font: seven rows of five bits, the most significant of the five on the left. Upper case,
/// digits and the punctuation of dates and amounts; anything else draws as `?`.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ' ' => [0; 7],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
    }
}

/// The smallest 1, 2 or 5 × 10^k that is ≥ `v` (at least 1): the top of a panel's scale, so the
/// ticks (top and half) are round numbers.
fn nice_max(v: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            match step.checked_mul(m) {
                Some(n) if n >= v => return n,
                None => return i64::MAX,
                _ => {}
            }
        }
        match step.checked_mul(10) {
            Some(s) => step = s,
            None => return i64::MAX,
        }
    }
}

/// A tick value of `v` minor units with `exp` decimals, short: `0`, `2.5`, `600`, `5,000`, `25K`,
/// `2.5M`, `0.005`. Tick values are round (see [`nice_max`]), so nothing is lost.
fn tick_label(v: i64, exp: u32) -> String {
    let unit = 10i64.pow(exp);
    let (int, frac) = (v / unit, v % unit);
    let trimmed = |int: i64, frac: i64, digits: u32| {
        if frac == 0 {
            return int.to_string();
        }
        let f = format!("{:0w$}", frac, w = digits as usize);
        format!("{int}.{}", f.trim_end_matches('0'))
    };
    if frac != 0 {
        return trimmed(int, frac, exp);
    }
    if int >= 1_000_000 {
        format!("{}M", trimmed(int / 1_000_000, int % 1_000_000, 6))
    } else if int >= 10_000 {
        format!("{}K", trimmed(int / 1000, int % 1000, 3))
    } else if int >= 1000 {
        format!("{},{:03}", int / 1000, int % 1000)
    } else {
        int.to_string()
    }
}

/// Bar height in pixels for `v` of `max` in a plot `h` pixels high; any non-zero value gets ≥ 2 px
/// so a small problem is never invisible.
fn bar(v: i64, max: i64, h: u32) -> u32 {
    if v <= 0 || max <= 0 {
        return 0;
    }
    let scaled = (v as i128 * h as i128 / max as i128) as u32;
    scaled.clamp(2, h)
}

/// One panel: its values per day (`None`: no report that day), how to write them, its colour.
struct Panel {
    title: String,
    /// The title of the narrow layout (`DISCREPANCIES` for `DISCREPANCIES PER DAY`).
    short_title: String,
    values: Vec<Option<i64>>,
    exp: u32,
    colour: Rgb,
    /// The last day's value as written in the title line (`11-25: HKD 618.50`), and without the
    /// currency for when the title leaves no room (`11-25: 618.50`).
    last: String,
    last_short: String,
}

fn draw_panel(c: &mut Canvas, l: &Layout, top: u32, panel: &Panel) {
    let (left, slot) = (l.left, l.slot);
    let right = left + slot * super::TREND_DAYS as u32;
    let (plot_top, base) = (top + l.title_h(), top + l.title_h() + PLOT_H);
    // A panel of zeros still gets a readable scale: one major unit (0 TO 1), not one minor unit.
    let highest = panel.values.iter().flatten().copied().max().unwrap_or(0);
    let max = if highest > 0 { nice_max(highest) } else { 10i64.pow(panel.exp) };
    let name = if l.two_line_title { &panel.short_title } else { &panel.title };
    let title = format!("{name} (0 TO {})", tick_label(max, panel.exp));
    if l.two_line_title {
        // The title from the left edge, the last day's value right-aligned under it.
        c.text(4, top, &title, TEXT);
        let last = &panel.last;
        c.text(right.saturating_sub(text_width(last)), top + GLYPH_H + 4, last, TEXT);
    } else {
        let title_end = c.text(left, top, &title, TEXT);
        // The last day's value at the right of the title, shortened to the value when it would touch it.
        let last = [panel.last.as_str(), panel.last_short.as_str()]
            .into_iter()
            .find(|l| title_end + 2 * ADVANCE + text_width(l) <= right)
            .unwrap_or(&panel.last_short);
        c.text(right.saturating_sub(text_width(last)), top, last, TEXT);
    }

    // The report's day is the last slot: shade it so the eye finds it in every panel.
    let today_x = left + slot * (super::TREND_DAYS as u32 - 1);
    c.rect(today_x, plot_top, today_x + slot, base, TODAY);
    // Ticks at the top and at half of it, rounded down to a whole minor unit (a count of 5 has its
    // middle tick at 2, drawn where 2 is).
    for v in [max, max / 2].into_iter().filter(|v| *v > 0) {
        let y = base - (v as i128 * PLOT_H as i128 / max as i128) as u32;
        c.rect(left, y, right, y + 1, GRID);
        let label = tick_label(v, panel.exp);
        c.text(left.saturating_sub(6 + text_width(&label)), y.saturating_sub(GLYPH_H / 2), &label, TEXT);
    }
    c.text(left - 6 - text_width("0"), base - GLYPH_H / 2, "0", TEXT);
    c.rect(left - 2, plot_top, left, base + 2, AXIS);
    c.rect(left - 2, base, right, base + 2, AXIS);

    for (i, v) in panel.values.iter().enumerate() {
        let x = left + slot * i as u32;
        match v {
            // No report for that day: a grey dash on the baseline.
            None => c.rect(x + l.dash_margin, base - 3, x + slot - l.dash_margin, base - 1, NO_DATA),
            Some(v) => {
                let h = bar(*v, max, PLOT_H);
                c.rect(x + l.bar_margin, base - h, x + slot - l.bar_margin, base, panel.colour);
            }
        }
    }
}

/// `trend.png` ([`WIDE`]) or `trend-narrow.png` ([`NARROW`]): the same panels, values and labels.
pub fn trend_png(p: &Prepared, l: &Layout) -> Result<Vec<u8>> {
    let (w, h) = size(p, l);
    let mut c = Canvas::new(w, h);
    let last_date = p.input.business_date.format("%m-%d").to_string();
    let mut panels = vec![{
        let values: Vec<Option<i64>> = p.trend.iter().map(|(_, t)| t.map(|t| t.discrepancies)).collect();
        let last = values.last().copied().flatten().map(|v| v.to_string()).unwrap_or_else(|| "NO REPORT".into());
        Panel {
            title: "DISCREPANCIES PER DAY".into(),
            short_title: "DISCREPANCIES".into(),
            values,
            exp: 0,
            colour: COUNT,
            last: format!("{last_date}: {last}"),
            last_short: last.clone(),
        }
    }];
    for (k, code) in p.currencies.keys().take(MAX_CURRENCY_PANELS).enumerate() {
        let cur: Currency = p.currency(code);
        let values: Vec<Option<i64>> =
            p.trend.iter().map(|(_, t)| t.map(|t| t.at_stake.get(code).copied().unwrap_or(0))).collect();
        let last = values.last().copied().flatten().map(|v| money(v, cur)).unwrap_or_else(|| "NO REPORT".into());
        panels.push(Panel {
            title: format!("AT STAKE, {code}"),
            short_title: format!("AT STAKE, {code}"),
            values,
            exp: cur.exponent(),
            colour: CURRENCY_COLOURS[k],
            last: format!("{last_date}: {code} {last}"),
            last_short: format!("{last_date}: {last}"),
        });
    }
    for (i, panel) in panels.iter().enumerate() {
        draw_panel(&mut c, l, TOP + l.panel_h() * i as u32, panel);
    }

    // The shared date axis: every second (fourth) day back from the report's day, which is drawn
    // inverted.
    let y = TOP + l.panel_h() * panels.len() as u32 - PANEL_GAP + 6;
    for (i, (date, _)) in p.trend.iter().enumerate().rev().step_by(l.label_step) {
        let label = date.format("%m-%d").to_string();
        let cx = l.left + l.slot * i as u32 + l.slot / 2;
        let x = cx - text_width(&label) / 2;
        if i + 1 == p.trend.len() {
            c.rect(x - 3, y - 3, x + text_width(&label) + 3, y + GLYPH_H + 3, TEXT);
            c.text(x, y, &label, BACKGROUND);
        } else {
            c.text(x, y, &label, TEXT);
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

    #[test]
    fn scales_are_round_and_labelled_short() {
        let cases = [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (61_850, 100_000), (i64::MAX, i64::MAX)];
        for (v, want) in cases {
            assert_eq!(nice_max(v), want, "nice_max({v})");
        }
        let labels = [
            (0, 2, "0"),
            (100_000, 2, "1,000"),
            (50_000, 2, "500"),
            (250, 2, "2.5"),
            (5, 3, "0.005"),
            (2_500_000, 0, "2.5M"),
            (25_000, 0, "25K"),
            (5_000, 0, "5,000"),
            (1_000_000_000, 2, "10M"),
        ];
        for (v, exp, want) in labels {
            assert_eq!(tick_label(v, exp), want, "tick_label({v}, {exp})");
        }
    }

    #[test]
    fn every_character_of_the_labels_has_a_glyph() {
        let unknown = glyph('~');
        for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -.,:()/".chars() {
            assert!(glyph(ch) != unknown, "{ch:?} has no glyph");
        }
        assert_eq!(text_width("AB"), 22);
    }
}
