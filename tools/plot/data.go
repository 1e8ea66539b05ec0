package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Chart is one measurement file: a curve or several (series) of y against
// x, with the labels and scales to draw them.
//
// The file is tab-separated text:
//
//	# title: Scheduler: longest offer decision
//	# x: simulated agents
//	# y: ms
//	# scale: log-log
//	# goal: 1000 one second
//	# (any other # line is a comment: where the figures come from)
//	agents	decision
//	100	54
//	1000	212
//
// The first line that is not a comment names the columns: x, then one per
// series. Each row is an x and one value per series, "-" where a series
// has no point. scale is log-log (the default), log-linear (log x) or
// linear, and comes before any goal; a goal is a value and its label,
// drawn as a dashed line.
type Chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	Goals                 []Goal
}

// Goal is a horizontal reference line ("# goal: 100 p99 goal").
type Goal struct {
	Y     float64
	Label string
}

// Series is one curve: its name and its points in file order.
type Series struct {
	Name   string
	Points []Point
}

// Point is one measurement.
type Point struct{ X, Y float64 }

// Parse reads a measurement file; name prefixes its errors.
func Parse(name string, r io.Reader) (*Chart, error) {
	c := &Chart{LogX: true, LogY: true}
	sc := bufio.NewScanner(r)
	header := false
	rows := 0
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		var err error
		switch {
		case strings.TrimSpace(text) == "":
		case strings.HasPrefix(text, "#"):
			err = c.directive(strings.TrimSpace(strings.TrimPrefix(text, "#")))
		case !header:
			err = c.header(text)
			header = true
		default:
			err = c.row(text)
			rows++
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.complete(rows); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// directive applies a "# key: value" line; other comments are ignored.
func (c *Chart) directive(s string) error {
	key, val, ok := strings.Cut(s, ":")
	if !ok {
		return nil
	}
	val = strings.TrimSpace(val)
	switch strings.TrimSpace(key) {
	case "title":
		c.Title = val
	case "x":
		c.XLabel = val
	case "y":
		c.YLabel = val
	case "goal":
		num, label, _ := strings.Cut(val, " ")
		y, err := c.value(num, c.LogY)
		if err != nil {
			return fmt.Errorf("goal: %w", err)
		}
		c.Goals = append(c.Goals, Goal{Y: y, Label: strings.TrimSpace(label)})
	case "scale":
		switch val {
		case "log-log":
			c.LogX, c.LogY = true, true
		case "log-linear":
			c.LogX, c.LogY = true, false
		case "linear":
			c.LogX, c.LogY = false, false
		default:
			return fmt.Errorf("scale %q: want log-log, log-linear or linear", val)
		}
	}
	return nil
}

func (c *Chart) header(s string) error {
	cols := strings.Split(s, "\t")
	if len(cols) < 2 {
		return fmt.Errorf("header %q: want the x column and at least one series, tab-separated", s)
	}
	for _, name := range cols[1:] {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("header %q: a series without a name", s)
		}
		c.Series = append(c.Series, Series{Name: strings.TrimSpace(name)})
	}
	return nil
}

func (c *Chart) row(s string) error {
	cols := strings.Split(s, "\t")
	if len(cols) != len(c.Series)+1 {
		return fmt.Errorf("row %q: %d columns, the header has %d", s, len(cols), len(c.Series)+1)
	}
	x, err := c.value(cols[0], c.LogX)
	if err != nil {
		return fmt.Errorf("x: %w", err)
	}
	for i, col := range cols[1:] {
		if strings.TrimSpace(col) == "-" {
			continue
		}
		y, err := c.value(col, c.LogY)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Series[i].Name, err)
		}
		c.Series[i].Points = append(c.Series[i].Points, Point{X: x, Y: y})
	}
	return nil
}

// value parses a number (thousands separators allowed); on a log axis it
// must be positive.
func (c *Chart) value(s string, log bool) (float64, error) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		return 0, fmt.Errorf("%q is not a number", s)
	case log && v <= 0:
		return 0, fmt.Errorf("%v on a log scale: values must be positive", v)
	}
	return v, nil
}

// complete checks what only the whole file can show.
func (c *Chart) complete(rows int) error {
	switch {
	case c.Title == "":
		return fmt.Errorf("no '# title:' line")
	case len(c.Series) == 0:
		return fmt.Errorf("no header line (the x column, then the series, tab-separated)")
	case rows == 0:
		return fmt.Errorf("no data rows")
	}
	return nil
}
