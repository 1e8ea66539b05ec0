package master

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// resVal is one named resource with its value. Scalars are held in Mesos's
// 3-decimal fixed point (milli units) so that sums and differences are exact.
type resVal struct {
	typ    mesos.ValueType
	milli  int64              // SCALAR
	ranges []mesos.ValueRange // RANGES: sorted, disjoint, non-adjacent
	set    []string           // SET: sorted, unique
}

// resources is an unreserved resource vector keyed by name. All resources
// in this master are unreserved ("*"), so roles are not part of the key.
// A resources value is never mutated after construction; the methods return
// new values.
type resources map[string]resVal

// parseResources converts wire resources into a vector, rejecting the
// inputs Mesos's Resources::validate rejects: a scalar that is not positive
// or not finite, a range with begin > end, overlapping ranges, duplicate
// set items, a missing value or a name used with two types.
func parseResources(rs []mesos.Resource) (resources, error) {
	out := resources{}
	for _, r := range rs {
		if r.Name == "" {
			return nil, fmt.Errorf("resource name must not be empty")
		}
		var v resVal
		switch r.Type {
		case mesos.ScalarType:
			if r.Scalar == nil {
				return nil, fmt.Errorf("resource %q: scalar value missing", r.Name)
			}
			if r.Scalar.Value == 0 {
				continue // an empty resource, as Mesos's Resources drops it
			}
			milli, ok := toFixed(r.Scalar.Value)
			if !ok || milli <= 0 {
				return nil, fmt.Errorf("Resource '%s:%s' is invalid: Invalid scalar resource: value <= 0", r.Name, fmtFixed(milli))
			}
			v = resVal{typ: mesos.ScalarType, milli: milli}
		case mesos.RangesType:
			if r.Ranges == nil || len(r.Ranges.Range) == 0 {
				return nil, fmt.Errorf("resource %q: ranges missing", r.Name)
			}
			rg := slices.Clone(r.Ranges.Range)
			for _, x := range rg {
				if x.Begin > x.End {
					return nil, fmt.Errorf("resource %q: range [%d-%d] has begin > end", r.Name, x.Begin, x.End)
				}
			}
			sort.Slice(rg, func(i, j int) bool { return rg[i].Begin < rg[j].Begin })
			for i := 1; i < len(rg); i++ {
				if rg[i].Begin <= rg[i-1].End {
					return nil, fmt.Errorf("resource %q: overlapping ranges", r.Name)
				}
			}
			v = resVal{typ: mesos.RangesType, ranges: mergeRanges(rg)}
		case mesos.SetType:
			if r.Set == nil || len(r.Set.Item) == 0 {
				return nil, fmt.Errorf("resource %q: set items missing", r.Name)
			}
			items := slices.Clone(r.Set.Item)
			slices.Sort(items)
			if len(slices.Compact(slices.Clone(items))) != len(items) {
				return nil, fmt.Errorf("resource %q: duplicate set items", r.Name)
			}
			v = resVal{typ: mesos.SetType, set: items}
		default:
			return nil, fmt.Errorf("resource %q: unsupported type %q", r.Name, r.Type)
		}
		if old, ok := out[r.Name]; ok {
			if old.typ != v.typ {
				return nil, fmt.Errorf("resource %q: used with types %s and %s", r.Name, old.typ, v.typ)
			}
			v = addVal(old, v)
		}
		out[r.Name] = v
	}
	return out, nil
}

// toFixed converts a scalar to Mesos's fixed point (thousandths, rounded
// half away from zero like llround); ok is false for NaN, ±Inf and values
// beyond the int64 range, which Mesos's llround turns into its minimum.
func toFixed(f float64) (milli int64, ok bool) {
	x := math.Round(f * 1000)
	if math.IsNaN(x) || x >= math.MaxInt64 || x < math.MinInt64 {
		return math.MinInt64, false
	}
	return int64(x), true
}

// fmtFixed prints a fixed-point value as Mesos prints a scalar (15
// significant digits).
func fmtFixed(milli int64) string {
	return strconv.FormatFloat(float64(milli)/1000, 'g', 15, 64)
}

// validateResource mirrors Resources::validate for one resource: a name, a
// known type, the value of that type, and for a scalar a non-zero value
// whose fixed-point form is positive.
func validateResource(r mesos.Resource) error {
	invalid := func(msg string) error {
		return fmt.Errorf("Resource '%s' is invalid: %s", resourceString(r), msg)
	}
	switch {
	case r.Name == "":
		return invalid("Empty resource name")
	case r.Type == mesos.ScalarType:
		if r.Scalar == nil || r.Ranges != nil || r.Set != nil {
			return invalid("Invalid scalar resource")
		}
		if milli, ok := toFixed(r.Scalar.Value); r.Scalar.Value != 0 && (!ok || milli <= 0) {
			return invalid("Invalid scalar resource: value <= 0")
		}
	case r.Type == mesos.RangesType:
		if r.Scalar != nil || r.Ranges == nil || r.Set != nil {
			return invalid("Invalid ranges resource")
		}
		rg := r.Ranges.Range
		for i, x := range rg {
			if x.Begin > x.End {
				return invalid("Invalid ranges resource: begin > end")
			}
			for _, y := range rg[i+1:] {
				if x.Begin <= y.End && y.Begin <= x.End {
					return invalid("Invalid ranges resource: overlapping ranges")
				}
			}
		}
	case r.Type == mesos.SetType:
		if r.Scalar != nil || r.Ranges != nil || r.Set == nil {
			return invalid("Invalid set resource")
		}
		items := slices.Sorted(slices.Values(r.Set.Item))
		if len(slices.Compact(items)) != len(r.Set.Item) {
			return invalid("Invalid set resource: duplicated elements")
		}
	default:
		return invalid("Invalid resource type")
	}
	return nil
}

// resourceString prints a resource as Mesos's stringify does for an
// unreserved one ("cpus:2", "ports:[31000-31001]").
func resourceString(r mesos.Resource) string {
	switch {
	case r.Type == mesos.ScalarType && r.Scalar != nil:
		milli, _ := toFixed(r.Scalar.Value)
		return r.Name + ":" + fmtFixed(milli)
	case r.Type == mesos.RangesType && r.Ranges != nil:
		var s []string
		for _, x := range r.Ranges.Range {
			s = append(s, fmt.Sprintf("%d-%d", x.Begin, x.End))
		}
		return r.Name + ":[" + strings.Join(s, ", ") + "]"
	case r.Type == mesos.SetType && r.Set != nil:
		return r.Name + ":{" + strings.Join(r.Set.Item, ", ") + "}"
	}
	return r.Name
}

// mergeRanges returns sorted ranges with overlapping and adjacent ones
// merged. The input must be sorted by Begin.
func mergeRanges(rg []mesos.ValueRange) []mesos.ValueRange {
	var out []mesos.ValueRange
	for _, x := range rg {
		if n := len(out); n > 0 && x.Begin <= out[n-1].End+1 {
			out[n-1].End = max(out[n-1].End, x.End)
			continue
		}
		out = append(out, x)
	}
	return out
}

func addVal(a, b resVal) resVal {
	switch a.typ {
	case mesos.ScalarType:
		return resVal{typ: a.typ, milli: a.milli + b.milli}
	case mesos.RangesType:
		rg := append(slices.Clone(a.ranges), b.ranges...)
		sort.Slice(rg, func(i, j int) bool { return rg[i].Begin < rg[j].Begin })
		return resVal{typ: a.typ, ranges: mergeRanges(rg)}
	default:
		s := append(slices.Clone(a.set), b.set...)
		slices.Sort(s)
		return resVal{typ: a.typ, set: slices.Compact(s)}
	}
}

// subVal returns a minus b; the caller ensures a contains b.
func subVal(a, b resVal) resVal {
	switch a.typ {
	case mesos.ScalarType:
		return resVal{typ: a.typ, milli: a.milli - b.milli}
	case mesos.RangesType:
		out := slices.Clone(a.ranges)
		for _, cut := range b.ranges {
			var next []mesos.ValueRange
			for _, x := range out {
				if cut.End < x.Begin || cut.Begin > x.End {
					next = append(next, x)
					continue
				}
				if cut.Begin > x.Begin {
					next = append(next, mesos.ValueRange{Begin: x.Begin, End: cut.Begin - 1})
				}
				if cut.End < x.End {
					next = append(next, mesos.ValueRange{Begin: cut.End + 1, End: x.End})
				}
			}
			out = next
		}
		return resVal{typ: a.typ, ranges: out}
	default:
		var s []string
		for _, it := range a.set {
			if !slices.Contains(b.set, it) {
				s = append(s, it)
			}
		}
		return resVal{typ: a.typ, set: s}
	}
}

func containsVal(a, b resVal) bool {
	if a.typ != b.typ {
		return false
	}
	switch a.typ {
	case mesos.ScalarType:
		return a.milli >= b.milli
	case mesos.RangesType:
		for _, x := range b.ranges {
			ok := false
			for _, y := range a.ranges {
				if x.Begin >= y.Begin && x.End <= y.End {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return true
	default:
		for _, it := range b.set {
			if !slices.Contains(a.set, it) {
				return false
			}
		}
		return true
	}
}

func (v resVal) empty() bool {
	switch v.typ {
	case mesos.ScalarType:
		return v.milli <= 0
	case mesos.RangesType:
		return len(v.ranges) == 0
	default:
		return len(v.set) == 0
	}
}

// add returns r + o.
func (r resources) add(o resources) resources {
	out := resources{}
	for k, v := range r {
		out[k] = v
	}
	for k, v := range o {
		if old, ok := out[k]; ok && old.typ == v.typ {
			out[k] = addVal(old, v)
		} else if !ok {
			out[k] = v
		}
	}
	return out
}

// sub returns r - o, dropping resources that become empty. Resources of o
// not in r are ignored.
func (r resources) sub(o resources) resources {
	out := resources{}
	for k, v := range r {
		if w, ok := o[k]; ok && w.typ == v.typ {
			v = subVal(v, w)
		}
		if !v.empty() {
			out[k] = v
		}
	}
	return out
}

// contains reports whether every resource of o is within r.
func (r resources) contains(o resources) bool {
	for k, w := range o {
		if w.empty() {
			continue
		}
		v, ok := r[k]
		if !ok || !containsVal(v, w) {
			return false
		}
	}
	return true
}

// empty reports whether r holds nothing.
func (r resources) empty() bool {
	for _, v := range r {
		if !v.empty() {
			return false
		}
	}
	return true
}

func (r resources) names() []string {
	ks := make([]string, 0, len(r))
	for k, v := range r {
		if !v.empty() {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

// scalar returns the scalar value of name (0 when absent).
func (r resources) scalar(name string) float64 {
	v, ok := r[name]
	if !ok || v.typ != mesos.ScalarType {
		return 0
	}
	return float64(v.milli) / 1000
}

// toMesos converts r to wire resources sorted by name. role is written as
// Resource.role when not empty; alloc, when not empty, as allocation_info.
func (r resources) toMesos(role, alloc string) []mesos.Resource {
	var out []mesos.Resource
	for _, k := range r.names() {
		v := r[k]
		var res mesos.Resource
		switch v.typ {
		case mesos.ScalarType:
			res = mesos.Resource{Name: k, Type: v.typ, Scalar: &mesos.ValueScalar{Value: float64(v.milli) / 1000}}
		case mesos.RangesType:
			res = mesos.Resource{Name: k, Type: v.typ, Ranges: &mesos.ValueRanges{Range: slices.Clone(v.ranges)}}
		default:
			res = mesos.Resource{Name: k, Type: v.typ, Set: &mesos.ValueSet{Item: slices.Clone(v.set)}}
		}
		res.Role = role
		if alloc != "" {
			res.AllocationInfo = &mesos.AllocationInfo{Role: alloc}
		}
		out = append(out, res)
	}
	return out
}

// String formats r the way Mesos prints resources:
// "cpus:2; mem:4096; ports:[31000-32000]".
func (r resources) String() string {
	var parts []string
	for _, k := range r.names() {
		parts = append(parts, k+":"+r[k].String())
	}
	return strings.Join(parts, "; ")
}

// String formats one value: "2", "[31000-31005, 31010-32000]", "{a, b}".
func (v resVal) String() string {
	switch v.typ {
	case mesos.ScalarType:
		return fmtScalar(float64(v.milli) / 1000)
	case mesos.RangesType:
		var s []string
		for _, x := range v.ranges {
			s = append(s, fmt.Sprintf("%d-%d", x.Begin, x.End))
		}
		return "[" + strings.Join(s, ", ") + "]"
	default:
		return "{" + strings.Join(v.set, ", ") + "}"
	}
}

func fmtScalar(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
}

// stateJSON renders r as the object the Mesos /state endpoint uses:
// scalars as numbers, ranges and sets as strings.
func (r resources) stateJSON() map[string]any {
	out := map[string]any{}
	for _, k := range []string{mesos.ResCPUs, mesos.ResMem, mesos.ResDisk, "gpus"} {
		out[k] = r.scalar(k)
	}
	for _, k := range r.names() {
		v := r[k]
		if v.typ == mesos.ScalarType {
			out[k] = r.scalar(k)
		} else {
			out[k] = v.String()
		}
	}
	return out
}
