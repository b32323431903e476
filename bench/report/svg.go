package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// SVG layout: three charts stacked, each chartW × chartH inside margins.
const (
	svgWidth  = 900
	chartH    = 220
	marginL   = 80
	marginR   = 30
	marginT   = 40
	chartGap  = 70
	chartW    = svgWidth - marginL - marginR
	svgHeight = marginT + 3*chartH + 2*chartGap + 50
)

// WriteSVG draws the run: throughput over time, latency (p50, p99, max per
// progress interval, drawn as steps across each interval) over time, and the latency distribution (latency by percentile,
// the percentile axis stretched toward 99.999 %).
func (r *Report) WriteSVG(w io.Writer, title string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, svgHeight, svgWidth, svgHeight)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, escape(title))

	// 1. Throughput over time.
	top := marginT
	xs, tput := make([]float64, len(r.series)), make([]float64, len(r.series))
	maxX := 1.0
	for i, p := range r.series {
		xs[i], tput[i] = p.Second, p.PerSecond
		maxX = math.Max(maxX, p.Second)
	}
	ymax := niceCeil(maxOf(tput))
	frame(&b, top, "time (s)", "msgs/s", 0, maxX, linearTicks(0, ymax, false), false, 0, ymax)
	sx, sy := steps(xs, tput)
	polyline(&b, top, sx, sy, 0, maxX, 0, ymax, false, "#1f77b4")
	legend(&b, top, []string{"throughput"}, []string{"#1f77b4"})

	// 2. Latency over time (log scale).
	top += chartH + chartGap
	var lat [3][]float64
	for _, p := range r.series {
		lat[0] = append(lat[0], us(p.P50))
		lat[1] = append(lat[1], us(p.P99))
		lat[2] = append(lat[2], us(p.Max))
	}
	lo, hi := logRange(append(append(append([]float64(nil), lat[0]...), lat[1]...), lat[2]...))
	frame(&b, top, "time (s)", "latency (µs)", 0, maxX, logTicks(lo, hi), true, lo, hi)
	colors := []string{"#2ca02c", "#ff7f0e", "#d62728"}
	for i := range lat {
		sx, sy := steps(xs, lat[i])
		polyline(&b, top, sx, sy, 0, maxX, lo, hi, true, colors[i])
	}
	legend(&b, top, []string{"p50", "p99", "max"}, colors)

	// 3. Latency distribution.
	top += chartH + chartGap
	var px, py []float64
	if r.histogram != nil {
		h := hdrhistogram.Import(r.histogram)
		if h.TotalCount() > 0 {
			for x := 0.0; x <= 5.0001; x += 0.05 { // x = -log10(1 - q)
				q := 100 * (1 - math.Pow(10, -x))
				px = append(px, x)
				py = append(py, float64(h.ValueAtQuantile(q))/1e3)
			}
			px = append(px, 5.2)
			py = append(py, float64(h.Max())/1e3)
		}
	}
	lo, hi = logRange(py)
	pctTicks := []tick{{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}, {5, "99.999%"}}
	frameX(&b, top, "percentile", "latency (µs)", 0, 5.2, pctTicks, logTicks(lo, hi), true, lo, hi)
	polyline(&b, top, px, py, 0, 5.2, lo, hi, true, "#9467bd")
	legend(&b, top, []string{"latency at percentile"}, []string{"#9467bd"})

	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// steps turns per-interval points (each ending at xs[i], starting where the
// previous one ended, the first at 0) into a step line: a horizontal
// segment across each interval, so a run of one interval still draws.
func steps(xs, ys []float64) (sx, sy []float64) {
	prev := 0.0
	for i := range xs {
		sx = append(sx, prev, xs[i])
		sy = append(sy, ys[i], ys[i])
		prev = xs[i]
	}
	return sx, sy
}

type tick struct {
	v     float64
	label string
}

func us(d interface{ Nanoseconds() int64 }) float64 { return float64(d.Nanoseconds()) / 1e3 }

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func linearTicks(lo, hi float64, _ bool) []tick {
	var t []tick
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		t = append(t, tick{v, compact(v)})
	}
	return t
}

// logRange returns decade bounds around the positive values of v.
func logRange(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), 0.0
	for _, x := range v {
		if x > 0 {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if hi == 0 {
		return 1, 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	return lo, hi
}

func logTicks(lo, hi float64) []tick {
	var t []tick
	for v := lo; v <= hi*1.0001; v *= 10 {
		t = append(t, tick{v, compact(v)})
	}
	return t
}

func compact(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func yPos(top int, v, lo, hi float64, logScale bool) float64 {
	var f float64
	if logScale {
		if v <= 0 {
			v = lo
		}
		f = (math.Log10(v) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo))
	} else {
		f = (v - lo) / (hi - lo)
	}
	f = math.Max(0, math.Min(1, f))
	return float64(top+chartH) - f*chartH
}

func xPos(v, lo, hi float64) float64 {
	if hi <= lo {
		return marginL
	}
	return marginL + (v-lo)/(hi-lo)*chartW
}

// frame draws axes with linear x ticks.
func frame(b *strings.Builder, top int, xlabel, ylabel string, xlo, xhi float64, yt []tick, logScale bool, ylo, yhi float64) {
	var xt []tick
	for i := 0; i <= 5; i++ {
		v := xlo + (xhi-xlo)*float64(i)/5
		xt = append(xt, tick{v, fmt.Sprintf("%.3g", v)})
	}
	frameX(b, top, xlabel, ylabel, xlo, xhi, xt, yt, logScale, ylo, yhi)
}

func frameX(b *strings.Builder, top int, xlabel, ylabel string, xlo, xhi float64, xt, yt []tick, logScale bool, ylo, yhi float64) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", marginL, top, chartW, chartH)
	for _, t := range yt {
		y := yPos(top, t.v, ylo, yhi, logScale)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, y, marginL+chartW, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginL-6, y+4, t.label)
	}
	for _, t := range xt {
		x := xPos(t.v, xlo, xhi)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top, x, top+chartH)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, top+chartH+16, t.label)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", marginL+chartW/2, top+chartH+34, escape(xlabel))
	fmt.Fprintf(b, `<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">%s</text>`+"\n",
		top+chartH/2, top+chartH/2, escape(ylabel))
}

func polyline(b *strings.Builder, top int, xs, ys []float64, xlo, xhi, ylo, yhi float64, logScale bool, color string) {
	if len(xs) == 0 {
		return
	}
	b.WriteString(`<polyline fill="none" stroke-width="1.6" stroke="` + color + `" points="`)
	for i := range xs {
		fmt.Fprintf(b, "%.1f,%.1f ", xPos(xs[i], xlo, xhi), yPos(top, ys[i], ylo, yhi, logScale))
	}
	b.WriteString("\"/>\n")
}

func legend(b *strings.Builder, top int, names, colors []string) {
	x := marginL + 10
	for i, n := range names {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="14" height="4" fill="%s"/>`, x, top-14, colors[i])
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x+18, top-9, escape(n))
		x += 30 + 8*len(n)
	}
}

func escape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}
