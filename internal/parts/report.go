package parts

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteReport prints, for a newcomer, one line per part (state, version,
// where) and, for each part that is not present, why and how to get it.
func WriteReport(w io.Writer, statuses []Status) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PART\tSTATE\tVERSION\tWHERE / WHY")
	for _, s := range statuses {
		where := s.Path
		if s.State != Present {
			where = s.Detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Part.Name, s.State, dash(s.Version), where)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var absent []string
	for _, s := range statuses {
		if s.State == Present {
			continue
		}
		absent = append(absent, string(s.Part.Name))
		fmt.Fprintf(w, "\n%s (%s): %s\n  used for: %s\n  found by: %s\n  install:  %s\n  CI:       %s\n",
			s.Part.Name, s.State, s.Detail, s.Part.About, s.Part.Finds, s.Part.Install, s.Part.CI)
	}
	if len(absent) == 0 {
		_, err := fmt.Fprintln(w, "\nall integration parts are present: `go test -race ./...` runs every test")
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d of %d parts not usable (%s): their tests skip locally and fail under %s=1 (CI); see docs/testing.md\n",
		len(absent), len(statuses), strings.Join(absent, ", "), EnvRequire)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Unusable returns the names among want ("all" for every part) whose
// status is not Present, and an error for a name that is no part.
func Unusable(statuses []Status, want []string) ([]Name, error) {
	byName := map[Name]Status{}
	for _, s := range statuses {
		byName[s.Part.Name] = s
	}
	var bad []Name
	for _, w := range want {
		if w == "all" {
			for _, s := range statuses {
				if s.State != Present {
					bad = append(bad, s.Part.Name)
				}
			}
			continue
		}
		s, ok := byName[Name(w)]
		if !ok {
			return nil, fmt.Errorf("unknown integration part %q (parts: %s)", w, names())
		}
		if s.State != Present {
			bad = append(bad, s.Part.Name)
		}
	}
	return bad, nil
}

func names() string {
	var n []string
	for _, p := range all {
		n = append(n, string(p.Name))
	}
	return strings.Join(n, ", ")
}
