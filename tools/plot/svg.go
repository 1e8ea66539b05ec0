package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The drawing's size and the plot area's margins, in pixels.
const (
	width, height            = 720, 440
	left, right, top, bottom = 80, 24, 56, 64
	inset                    = 16
)

// palette colours the series in order (distinct for the colour-blind).
var palette = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"}

// axis maps values on one axis to pixels.
type axis struct {
	log          bool
	lo, hi       float64 // the value range shown
	from, to     float64 // the pixel range
	ticks, minor []float64
	label        string
}

func (a axis) pos(v float64) float64 {
	f := (v - a.lo) / (a.hi - a.lo)
	if a.log {
		f = (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	}
	return a.from + f*(a.to-a.from)
}

// newAxis spans the values: whole decades on a log axis, from 0 to a round
// number on a linear one.
func newAxis(log bool, vals []float64, from, to float64, label string) axis {
	a := axis{log: log, from: from, to: to, label: label}
	lo, hi := vals[0], vals[0]
	for _, v := range vals {
		lo, hi = min(lo, v), max(hi, v)
	}
	if log {
		a.lo, a.hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		if a.hi == a.lo {
			a.hi *= 10
		}
		for d := a.lo; d <= a.hi*1.0001; d *= 10 {
			a.ticks = append(a.ticks, d)
			if d < a.hi {
				a.minor = append(a.minor, 2*d, 5*d)
			}
		}
		return a
	}
	a.lo, a.hi = min(0, lo), max(hi, lo+1)
	step := niceStep((a.hi - a.lo) / 5)
	a.hi = math.Ceil(a.hi/step) * step
	for v := a.lo; v <= a.hi+step/1e6; v += step {
		a.ticks = append(a.ticks, v)
	}
	return a
}

// niceStep rounds s up to 1, 2 or 5 times a power of ten.
func niceStep(s float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(s)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= s {
			return m * p
		}
	}
	return 10 * p
}

// Render draws c as an SVG document.
func Render(c *Chart) []byte {
	var xs, ys []float64
	for _, s := range c.Series {
		for _, p := range s.Points {
			xs, ys = append(xs, p.X), append(ys, p.Y)
		}
	}
	for _, g := range c.Goals {
		ys = append(ys, g.Y)
	}
	// The values sit inset from the frame, so that a point on the first
	// or last tick keeps its label inside.
	x := newAxis(c.LogX, xs, left+inset, width-right-3*inset, c.XLabel)
	y := newAxis(c.LogY, ys, height-bottom-inset, top+inset, c.YLabel)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="28" text-anchor="middle" font-size="16" font-weight="bold">%s</text>`+"\n", width/2, esc(c.Title))
	drawGrid(&b, x, y)
	for _, g := range c.Goals {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555555" stroke-dasharray="6 4"/>`+"\n", left, y.pos(g.Y), width-right, y.pos(g.Y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555555" font-size="11">%s</text>`+"\n", width-right-4, y.pos(g.Y)-4, esc(g.Label))
	}
	for i, s := range c.Series {
		drawSeries(&b, s, palette[i%len(palette)], x, y, i%3)
		drawLegend(&b, i, s.Name, palette[i%len(palette)])
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// drawGrid draws the grid lines, tick labels, the frame and the axis labels.
func drawGrid(b *bytes.Buffer, x, y axis) {
	for _, v := range x.minor {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eeeeee"/>`+"\n", x.pos(v), top, x.pos(v), height-bottom)
	}
	for _, v := range y.minor {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eeeeee"/>`+"\n", left, y.pos(v), width-right, y.pos(v))
	}
	for _, v := range x.ticks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#cccccc"/>`+"\n", x.pos(v), top, x.pos(v), height-bottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x.pos(v), height-bottom+18, tickLabel(v))
	}
	for _, v := range y.ticks {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#cccccc"/>`+"\n", left, y.pos(v), width-right, y.pos(v))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-8, y.pos(v)+4, tickLabel(v))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333333"/>`+"\n",
		left, top, width-left-right, height-top-bottom)
	scale := func(a axis) string {
		if a.log {
			return " (log scale)"
		}
		return ""
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", (left+width-right)/2, height-18, esc(x.label+scale(x)))
	fmt.Fprintf(b, `<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">%s</text>`+"\n",
		(top+height-bottom)/2, (top+height-bottom)/2, esc(y.label+scale(y)))
}

// drawSeries draws one curve: a line through its points in file order, a
// marker and the value at each point, placed by slot (0 above right, 1
// below right, 2 left) so that neighbouring curves' labels do not overlap.
func drawSeries(b *bytes.Buffer, s Series, color string, x, y axis, slot int) {
	dx, dy, anchor := 7.0, -7.0, "start"
	switch slot {
	case 1:
		dy = 16
	case 2:
		dx, dy, anchor = -8, 4, "end"
	}
	var pts []string
	for _, p := range s.Points {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x.pos(p.X), y.pos(p.Y)))
	}
	if len(pts) > 1 {
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
	}
	for _, p := range s.Points {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", x.pos(p.X), y.pos(p.Y), color)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="%s" font-size="11" text-anchor="%s">%s</text>`+"\n",
			x.pos(p.X)+dx, y.pos(p.Y)+dy, color, anchor, valueLabel(p.Y))
	}
}

// drawLegend draws the i-th legend entry, top left inside the plot.
func drawLegend(b *bytes.Buffer, i int, name, color string) {
	ly := top + 16 + 18*i
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="14" height="4" fill="%s"/>`+"\n", left+12, ly-6, color)
	fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", left+32, ly, esc(name))
}

// tickLabel writes 1000 as 1k, 10000000 as 10M.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// valueLabel writes a measured value: three significant digits, whole
// numbers from 1,000 up with thousands separators.
func valueLabel(v float64) string {
	if math.Abs(v) < 1000 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
