package mesos

import (
	"encoding/json"
	"math"
	"slices"
)

// Resource names used by this project.
const (
	ResCPUs  = "cpus"
	ResMem   = "mem"
	ResDisk  = "disk"
	ResPorts = "ports"
)

// ScalarResource returns a SCALAR resource. The value is rounded to Mesos's
// 3-decimal fixed point.
func ScalarResource(name string, value float64) Resource {
	return Resource{Name: name, Type: ScalarType, Scalar: &ValueScalar{Value: RoundScalar(value)}}
}

// RangesResource returns a RANGES resource.
func RangesResource(name string, ranges ...ValueRange) Resource {
	return Resource{Name: name, Type: RangesType, Ranges: &ValueRanges{Range: slices.Clone(ranges)}}
}

// SetResource returns a SET resource.
func SetResource(name string, items ...string) Resource {
	return Resource{Name: name, Type: SetType, Set: &ValueSet{Item: slices.Clone(items)}}
}

// PortsResource returns a ports resource holding exactly the given ports,
// with adjacent ports merged into one range.
func PortsResource(ports ...uint64) Resource {
	ps := slices.Clone(ports)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	var rs []ValueRange
	for _, p := range ps {
		if n := len(rs); n > 0 && rs[n-1].End+1 == p {
			rs[n-1].End = p
			continue
		}
		rs = append(rs, ValueRange{Begin: p, End: p})
	}
	return RangesResource(ResPorts, rs...)
}

// RoundScalar rounds v to the 3-decimal fixed point Mesos uses.
func RoundScalar(v float64) float64 { return math.Round(v*1000) / 1000 }

// SumScalar returns the total of the SCALAR resources named name.
func SumScalar(rs []Resource, name string) float64 {
	var total float64
	for _, r := range rs {
		if r.Name == name && r.Type == ScalarType && r.Scalar != nil {
			total += r.Scalar.Value
		}
	}
	return RoundScalar(total)
}

// AllRanges returns every range of the RANGES resources named name, in
// order. Inverted ranges (begin > end) are skipped.
func AllRanges(rs []Resource, name string) []ValueRange {
	var out []ValueRange
	for _, r := range rs {
		if r.Name != name || r.Type != RangesType || r.Ranges == nil {
			continue
		}
		for _, rg := range r.Ranges.Range {
			if rg.Begin <= rg.End {
				out = append(out, rg)
			}
		}
	}
	return out
}

// CountRange returns how many values an inclusive range holds.
func CountRange(r ValueRange) uint64 {
	if r.Begin > r.End {
		return 0
	}
	return r.End - r.Begin + 1
}

// PickPorts returns n distinct ports from the RANGES resources named
// "ports" (ranges inclusive, taken in offered order, across all ranges), or
// nil and false if fewer than n are offered.
func PickPorts(rs []Resource, n int) ([]uint64, bool) {
	if n <= 0 {
		return nil, true
	}
	seen := make(map[uint64]bool)
	var out []uint64
	for _, rg := range AllRanges(rs, ResPorts) {
		for p := rg.Begin; ; p++ {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
				if len(out) == n {
					return out, true
				}
			}
			if p == rg.End {
				break
			}
		}
	}
	return nil, false
}

// AllocationRole returns the role a resource is allocated to: allocation_info.role
// if set, else the (pre-refinement) reservation role.
func (r *Resource) AllocationRole() string {
	if r.AllocationInfo != nil && r.AllocationInfo.Role != "" {
		return r.AllocationInfo.Role
	}
	return r.Role
}

// Reserved reports whether r is reserved (statically or dynamically) to a
// role, in either the pre-refinement (role, reservation) or the
// refinement (reservations) format.
func (r *Resource) Reserved() bool {
	return len(r.Reservations) > 0 || r.Reservation != nil || (r.Role != "" && r.Role != "*")
}

// Take carves want (plain resources: names, types and amounts, as a task
// asks for them) out of the offered resources rs. Each piece it returns
// keeps the role, reservations and allocation info of the offered
// resource it came from, as the master requires of a LAUNCH: a framework
// of role R is offered both unreserved resources and resources reserved
// for R, and must name which it uses. Reserved pieces are taken first (no
// one else can use them). It returns the pieces, what is left of rs, and
// false (with rs unchanged) if rs does not hold want. SCALAR and RANGES
// resources are supported; anything else is returned as asked.
func Take(rs, want []Resource) (taken, rest []Resource, ok bool) {
	rest = cloneResources(rs)
	for _, w := range want {
		var got []Resource
		switch {
		case w.Type == ScalarType && w.Scalar != nil:
			got, ok = takeScalar(rest, w.Name, w.Scalar.Value)
		case w.Type == RangesType && w.Ranges != nil:
			got, ok = takeRanges(rest, w.Name, w.Ranges.Range)
		default:
			got, ok = []Resource{w}, true
		}
		if !ok {
			return nil, rs, false
		}
		taken = append(taken, got...)
	}
	return taken, dropEmpty(rest), true
}

// takeScalar takes amount of name from rs (changing rs in place),
// reserved pieces first.
func takeScalar(rs []Resource, name string, amount float64) ([]Resource, bool) {
	need := RoundScalar(amount)
	var got []Resource
	for _, reserved := range []bool{true, false} {
		for i := range rs {
			r := &rs[i]
			if need <= 0 || r.Name != name || r.Type != ScalarType || r.Scalar == nil || r.Reserved() != reserved || r.Scalar.Value <= 0 {
				continue
			}
			n := min(need, r.Scalar.Value)
			piece := *r
			piece.Scalar = &ValueScalar{Value: RoundScalar(n)}
			got = append(got, piece)
			r.Scalar = &ValueScalar{Value: RoundScalar(r.Scalar.Value - n)}
			need = RoundScalar(need - n)
		}
	}
	return got, need <= 0
}

// takeRanges takes every value of want from the RANGES resources name of
// rs (changing rs in place), one piece per offered resource it came from.
func takeRanges(rs []Resource, name string, want []ValueRange) ([]Resource, bool) {
	var got []Resource
	for _, w := range want {
		for v := w.Begin; v <= w.End && v >= w.Begin; v++ {
			i := slices.IndexFunc(rs, func(r Resource) bool {
				return r.Name == name && r.Type == RangesType && r.Ranges != nil && rangesHold(r.Ranges.Range, v)
			})
			if i < 0 {
				return nil, false
			}
			rs[i].Ranges = &ValueRanges{Range: removeValue(rs[i].Ranges.Range, v)}
			j := slices.IndexFunc(got, func(g Resource) bool { return sameMeta(g, rs[i]) })
			if j < 0 {
				piece := rs[i]
				piece.Ranges = &ValueRanges{}
				got = append(got, piece)
				j = len(got) - 1
			}
			got[j].Ranges.Range = addValue(got[j].Ranges.Range, v)
		}
	}
	return got, true
}

func rangesHold(rgs []ValueRange, v uint64) bool {
	return slices.ContainsFunc(rgs, func(r ValueRange) bool { return r.Begin <= v && v <= r.End })
}

func removeValue(rgs []ValueRange, v uint64) []ValueRange {
	var out []ValueRange
	for _, r := range rgs {
		switch {
		case v < r.Begin || v > r.End:
			out = append(out, r)
		default:
			if r.Begin < v {
				out = append(out, ValueRange{Begin: r.Begin, End: v - 1})
			}
			if v < r.End {
				out = append(out, ValueRange{Begin: v + 1, End: r.End})
			}
		}
	}
	return out
}

func addValue(rgs []ValueRange, v uint64) []ValueRange {
	if n := len(rgs); n > 0 && rgs[n-1].End+1 == v {
		rgs[n-1].End = v
		return rgs
	}
	return append(rgs, ValueRange{Begin: v, End: v})
}

// sameMeta reports whether a and b are the same resource apart from their
// values (name, role, reservations, allocation).
func sameMeta(a, b Resource) bool {
	a.Scalar, a.Ranges, a.Set = nil, nil, nil
	b.Scalar, b.Ranges, b.Set = nil, nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func cloneResources(rs []Resource) []Resource {
	out := slices.Clone(rs)
	for i := range out {
		if out[i].Scalar != nil {
			s := *out[i].Scalar
			out[i].Scalar = &s
		}
		if out[i].Ranges != nil {
			out[i].Ranges = &ValueRanges{Range: slices.Clone(out[i].Ranges.Range)}
		}
	}
	return out
}

func dropEmpty(rs []Resource) []Resource {
	return slices.DeleteFunc(rs, func(r Resource) bool {
		return (r.Scalar != nil && r.Scalar.Value <= 0) || (r.Ranges != nil && len(r.Ranges.Range) == 0)
	})
}
