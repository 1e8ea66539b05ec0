package mesos

import (
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
