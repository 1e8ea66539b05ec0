package mesos

import (
	"encoding/json"
	"testing"
)

func alloc(r Resource, role string) Resource {
	r.AllocationInfo = &AllocationInfo{Role: role}
	return r
}

func reserved(r Resource, role string) Resource {
	r.Role = role
	return alloc(r, role)
}

func TestTake(t *testing.T) {
	// An offer to role "miners": some of it reserved for the role, the
	// rest unreserved, all allocated to it (as the real master sends it).
	offer := []Resource{
		alloc(ScalarResource(ResCPUs, 1.5), "miners"),
		reserved(ScalarResource(ResCPUs, 1), "miners"),
		alloc(ScalarResource(ResMem, 1024), "miners"),
		reserved(ScalarResource(ResMem, 128), "miners"),
		alloc(RangesResource(ResPorts, ValueRange{Begin: 31000, End: 31009}), "miners"),
	}
	tests := []struct {
		name string
		want []Resource
		ok   bool
		got  string // JSON of the pieces
		rest string // JSON of what is left
	}{
		{
			name: "reserved first, then unreserved",
			want: []Resource{ScalarResource(ResCPUs, 2), ScalarResource(ResMem, 256), PortsResource(31003, 31004, 31009)},
			ok:   true,
			got: `[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"miners","allocation_info":{"role":"miners"}},` +
				`{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"miners"}},` +
				`{"name":"mem","type":"SCALAR","scalar":{"value":128},"role":"miners","allocation_info":{"role":"miners"}},` +
				`{"name":"mem","type":"SCALAR","scalar":{"value":128},"allocation_info":{"role":"miners"}},` +
				`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31003,"end":31004},{"begin":31009,"end":31009}]},"allocation_info":{"role":"miners"}}]`,
			rest: `[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5},"allocation_info":{"role":"miners"}},` +
				`{"name":"mem","type":"SCALAR","scalar":{"value":896},"allocation_info":{"role":"miners"}},` +
				`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31002},{"begin":31005,"end":31008}]},"allocation_info":{"role":"miners"}}]`,
		},
		{name: "more cpus than offered", want: []Resource{ScalarResource(ResCPUs, 2.6)}},
		{name: "a port not offered", want: []Resource{PortsResource(31010)}},
		{name: "a resource not offered", want: []Resource{ScalarResource(ResDisk, 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := json.Marshal(offer)
			got, rest, ok := Take(offer, tc.want)
			if after, _ := json.Marshal(offer); string(after) != string(before) {
				t.Fatalf("Take changed its input: %s", after)
			}
			if ok != tc.ok {
				t.Fatalf("ok: got %v, want %v", ok, tc.ok)
			}
			if !ok {
				if got != nil || len(rest) != len(offer) {
					t.Fatalf("failed Take: got %v and rest %v, want nil and the offer", got, rest)
				}
				return
			}
			if j, _ := json.Marshal(got); string(j) != tc.got {
				t.Errorf("taken:\n got %s\nwant %s", j, tc.got)
			}
			if j, _ := json.Marshal(rest); string(j) != tc.rest {
				t.Errorf("rest:\n got %s\nwant %s", j, tc.rest)
			}
		})
	}
}
