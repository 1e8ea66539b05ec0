package agent

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashfleet/hashfleet/internal/mesos"
)

// DefaultResources is used when an agent is given no resources: the
// command-line default of `hashfleet master`.
const DefaultResources = "cpus:2;mem:4096;disk:10240;ports:[31000-32000]"

// ParseResources parses resources in the syntax of the Mesos agent's
// --resources flag: "name:value" items separated by ';', where value is a
// scalar ("2", "0.5"), ranges ("[31000-32000]", "[1-2,5-9]") or a set
// ("{a,b}"). A role suffix "name(role)" is accepted and ignored (all
// resources here are unreserved). A missing ports resource defaults to
// [31000-32000], as on a Mesos agent.
func ParseResources(s string) ([]mesos.Resource, error) {
	var out []mesos.Resource
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("agent: resources: %q: want name:value", item)
		}
		name = strings.TrimSpace(name)
		if i := strings.IndexByte(name, '('); i >= 0 {
			name = name[:i]
		}
		val = strings.TrimSpace(val)
		if name == "" || seen[name] {
			return nil, fmt.Errorf("agent: resources: %q: empty or repeated name", item)
		}
		seen[name] = true
		switch {
		case strings.HasPrefix(val, "["):
			if !strings.HasSuffix(val, "]") {
				return nil, fmt.Errorf("agent: resources: %q: unterminated ranges", item)
			}
			var rs []mesos.ValueRange
			for r := range strings.SplitSeq(strings.Trim(val, "[]"), ",") {
				lo, hi, ok := strings.Cut(strings.TrimSpace(r), "-")
				b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
				e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
				if !ok || err1 != nil || err2 != nil || b > e {
					return nil, fmt.Errorf("agent: resources: %q: bad range %q", item, r)
				}
				rs = append(rs, mesos.ValueRange{Begin: b, End: e})
			}
			out = append(out, mesos.RangesResource(name, rs...))
		case strings.HasPrefix(val, "{"):
			if !strings.HasSuffix(val, "}") {
				return nil, fmt.Errorf("agent: resources: %q: unterminated set", item)
			}
			var items []string
			for it := range strings.SplitSeq(strings.Trim(val, "{}"), ",") {
				if it = strings.TrimSpace(it); it != "" {
					items = append(items, it)
				}
			}
			out = append(out, mesos.SetResource(name, items...))
		default:
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || f <= 0 {
				return nil, fmt.Errorf("agent: resources: %q: bad scalar", item)
			}
			out = append(out, mesos.ScalarResource(name, f))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("agent: resources: none in %q", s)
	}
	if !seen[mesos.ResPorts] {
		out = append(out, mesos.RangesResource(mesos.ResPorts, mesos.ValueRange{Begin: 31000, End: 32000}))
	}
	return out, nil
}
