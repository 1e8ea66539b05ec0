package stratum

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRejectKinds(t *testing.T) {
	tests := []struct {
		kind     RejectKind
		label    string
		code     int
		wantText string
	}{
		{kind: RejectOther, label: "other", code: 20, wantText: "rejected"},
		{kind: RejectInternal, label: "internal_error", code: 20, wantText: "internal error: share not checked, please resubmit"},
		{kind: RejectBadParams, label: "invalid_params", code: 20, wantText: "invalid params"},
		{kind: RejectExtranonce, label: "bad_extranonce2", code: 20, wantText: "invalid extranonce2 length"},
		{kind: RejectNTime, label: "bad_ntime", code: 20, wantText: "ntime out of range"},
		{kind: RejectVersion, label: "bad_version", code: 20, wantText: "version bits outside the negotiated mask"},
		{kind: RejectJobNotFound, label: "job_not_found", code: 21, wantText: "job not found"},
		{kind: RejectStale, label: "stale", code: 21, wantText: "stale job"},
		{kind: RejectDuplicate, label: "duplicate", code: 22, wantText: "duplicate share"},
		{kind: RejectLowDifficulty, label: "low_difficulty", code: 23, wantText: "low difficulty share"},
		{kind: RejectUnauthorized, label: "unauthorized", code: 24, wantText: "unauthorized worker"},
		{kind: RejectNotSubscribed, label: "not_subscribed", code: 25, wantText: "not subscribed"},
	}
	if len(tests) != int(numRejectKinds) {
		t.Fatalf("table covers %d kinds, want all %d", len(tests), numRejectKinds)
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			if got := tt.kind.String(); got != tt.label {
				t.Errorf("got label %q, want %q", got, tt.label)
			}
			if seen[tt.label] {
				t.Errorf("label %q used by two kinds", tt.label)
			}
			seen[tt.label] = true
			if got := tt.kind.Code(); got != tt.code {
				t.Errorf("got code %d, want %d", got, tt.code)
			}
			r := &RejectError{Kind: tt.kind}
			if got := r.Message(); got != tt.wantText {
				t.Errorf("got message %q, want %q", got, tt.wantText)
			}
			want := fmt.Sprintf("stratum: share rejected (%d %s): %s", tt.code, tt.label, tt.wantText)
			if got := r.Error(); got != want {
				t.Errorf("got error %q, want %q", got, want)
			}
			wire := r.Wire()
			if wire.Code != tt.code || wire.Message != tt.wantText {
				t.Errorf("got wire %+v, want code %d message %q", wire, tt.code, tt.wantText)
			}
		})
	}
	if got := RejectKind(200).Code(); got != ErrOther {
		t.Errorf("unknown kind: got code %d, want %d", got, ErrOther)
	}
	if got := RejectKind(200).String(); !strings.HasPrefix(got, "RejectKind(") {
		t.Errorf("unknown kind: got label %q, want RejectKind(200)", got)
	}
}

func TestRejectDetail(t *testing.T) {
	r := &RejectError{Kind: RejectExtranonce, Detail: "extranonce2 must be 4 bytes of hex"}
	if got, want := r.Message(), "extranonce2 must be 4 bytes of hex"; got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
	if got, want := r.Error(), "stratum: share rejected (20 bad_extranonce2): extranonce2 must be 4 bytes of hex"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var rej *RejectError
	if !errors.As(fmt.Errorf("wrapped: %w", r), &rej) || rej != r {
		t.Errorf("errors.As through a wrap: got %v", rej)
	}
}

// TestRejectFromWire checks that what a pool sends back is read into the
// same kinds: the code decides the kind (21 is job_not_found, since the
// wire does not say stale), the pool's text is kept as the detail.
func TestRejectFromWire(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		wantKind RejectKind
		wantMsg  string
	}{
		{name: "low difficulty array", line: `{"id":4,"result":null,"error":[23,"Low difficulty share",null]}`, wantKind: RejectLowDifficulty, wantMsg: "Low difficulty share"},
		{name: "job not found", line: `{"id":4,"result":null,"error":[21,"Job not found",null]}`, wantKind: RejectJobNotFound, wantMsg: "Job not found"},
		{name: "duplicate object", line: `{"id":4,"result":null,"error":{"code":22,"message":"dup"}}`, wantKind: RejectDuplicate, wantMsg: "dup"},
		{name: "unauthorized", line: `{"id":4,"result":null,"error":[24,"Unauthorized worker",null]}`, wantKind: RejectUnauthorized, wantMsg: "Unauthorized worker"},
		{name: "not subscribed", line: `{"id":4,"result":null,"error":[25,"Not subscribed",null]}`, wantKind: RejectNotSubscribed, wantMsg: "Not subscribed"},
		{name: "other code", line: `{"id":4,"result":null,"error":[-1,"boom",null]}`, wantKind: RejectOther, wantMsg: "boom"},
		{name: "ckpool reject-reason", line: `{"id":4,"result":false,"error":null,"reject-reason":"Stale"}`, wantKind: RejectOther, wantMsg: "Stale"},
		{name: "bare string", line: `{"id":4,"result":null,"error":"nope"}`, wantKind: RejectOther, wantMsg: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := json.Unmarshal([]byte(tt.line), &m); err != nil {
				t.Fatal(err)
			}
			resp := m.Response()
			err := resp.Bool()
			if err == nil {
				t.Fatal("got accepted, want a rejection")
			}
			rej := AsReject(err)
			if rej.Kind != tt.wantKind || rej.Message() != tt.wantMsg {
				t.Errorf("got %v %q, want %v %q", rej.Kind, rej.Message(), tt.wantKind, tt.wantMsg)
			}
		})
	}
	if got := AsReject(errors.New("io: closed")); got.Kind != RejectOther || got.Message() != "io: closed" {
		t.Errorf("plain error: got %v %q", got.Kind, got.Message())
	}
	r := &RejectError{Kind: RejectStale}
	if AsReject(fmt.Errorf("w: %w", r)) != r {
		t.Errorf("a *RejectError is returned as is")
	}
}

// TestSubmitReject maps mining.submit decode errors to kinds: a bad
// extranonce2 or version_bits has its own kind, any other shape error is
// invalid_params.
func TestSubmitReject(t *testing.T) {
	tests := []struct {
		raw  string
		want RejectKind
	}{
		{raw: `["w","j","zz","5f5e1000","00000000"]`, want: RejectExtranonce},
		{raw: `["w","j","","5f5e1000","00000000"]`, want: RejectExtranonce},
		{raw: `["w","j","00000001","5f5e1000","00000000","2000"]`, want: RejectVersion},
		{raw: `["w","j","00000001","zz","00000000"]`, want: RejectBadParams},
		{raw: `["w","j"]`, want: RejectBadParams},
		{raw: `[1,"j","00000001","5f5e1000","00000000"]`, want: RejectBadParams},
		{raw: `{}`, want: RejectBadParams},
	}
	for _, tt := range tests {
		req := &Request{Method: MethodSubmit, Params: json.RawMessage(tt.raw)}
		var s Submit
		err := req.Decode(&s)
		if err == nil {
			t.Fatalf("%s: decoded, want an error", tt.raw)
		}
		rej := SubmitReject(err)
		if rej.Kind != tt.want || rej.Message() != err.Error() {
			t.Errorf("%s: got %v %q, want %v with the decode error as message", tt.raw, rej.Kind, rej.Message(), tt.want)
		}
	}
}

// TestRejectRoundTrip encodes every kind as a reply and decodes it: the
// code and message survive, so a hashfleet miner counts a hashfleet
// pool's rejection under the kind that shares its code.
func TestRejectRoundTrip(t *testing.T) {
	for k := range numRejectKinds {
		r := &RejectError{Kind: k}
		b, err := json.Marshal(NewErrorResponse(json.RawMessage("7"), r.Wire()))
		if err != nil {
			t.Fatal(err)
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		got := AsReject(m.Response().Bool())
		if got.Kind.Code() != k.Code() || got.Message() != r.Message() {
			t.Errorf("%v: got %v %q, want code %d %q", k, got.Kind, got.Message(), k.Code(), r.Message())
		}
	}
}
