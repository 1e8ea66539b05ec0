package fleet

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	p := Policy{BackoffMin: time.Second, BackoffMax: 5 * time.Second}.WithDefaults()
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, p.Backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("backoffs %v, want %v", got, want)
	}
}

func TestFailuresAfter(t *testing.T) {
	p := Policy{StableAfter: time.Minute}.WithDefaults()
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name       string
		readySince time.Time
		now        time.Time
		want       int
	}{
		{name: "never ready", now: t0, want: 4},
		{name: "ready briefly", readySince: t0, now: t0.Add(59 * time.Second), want: 4},
		{name: "stable", readySince: t0, now: t0.Add(time.Minute), want: 1},
	}
	for _, tt := range tests {
		if got := p.FailuresAfter(tt.readySince, 3, tt.now); got != tt.want {
			t.Errorf("%s: FailuresAfter = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestWorkerSizing(t *testing.T) {
	tests := []struct {
		name      string
		p         Policy
		free, cpu float64 // free cpus where the worker goes; cpus the workers already use
		n         int
		wantSize  float64
		wantFull  bool
		wantLeft  int
	}{
		{name: "whole cpus", free: 3.7, wantSize: 3, wantLeft: math.MaxInt},
		{name: "no whole cpu", free: 0.9, wantSize: 0, wantLeft: math.MaxInt},
		{name: "fixed size fits", p: Policy{WorkerCPUs: 2}, free: 3, wantSize: 2, wantLeft: math.MaxInt},
		{name: "fixed size does not fit", p: Policy{WorkerCPUs: 2}, free: 1.5, wantSize: 0, wantLeft: math.MaxInt},
		{name: "max cpus lowers a whole-cpu worker", p: Policy{MaxCPUs: 6}, free: 8, cpu: 4, n: 1, wantSize: 2, wantLeft: 2},
		{name: "max cpus reached", p: Policy{MaxCPUs: 4}, free: 8, cpu: 4, n: 1, wantSize: 0, wantFull: true, wantLeft: 0},
		{name: "max workers reached", p: Policy{MaxWorkers: 2}, free: 8, cpu: 2, n: 2, wantSize: 8, wantFull: true, wantLeft: 0},
		{name: "fixed size under max cpus", p: Policy{WorkerCPUs: 2, MaxCPUs: 5}, free: 8, cpu: 4, n: 2, wantSize: 0, wantFull: true, wantLeft: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.NextWorker(tt.free, tt.cpu); got != tt.wantSize {
				t.Errorf("NextWorker = %v, want %v", got, tt.wantSize)
			}
			if got := tt.p.Full(tt.n, tt.cpu); got != tt.wantFull {
				t.Errorf("Full = %v, want %v", got, tt.wantFull)
			}
			if got := tt.p.Remaining(tt.n, tt.cpu); got != tt.wantLeft {
				t.Errorf("Remaining = %v, want %v", got, tt.wantLeft)
			}
		})
	}
}

func TestCommandLines(t *testing.T) {
	s := ServerArgs(Server{NodeRPC: "http://n:1", RPCUser: "u", Payout: "p", Network: "regtest", StratumListen: "0.0.0.0:3333", HTTPListen: "0.0.0.0:8080"})
	want := []string{"server", "--node-rpc", "http://n:1", "--payout", "p", "--network", "regtest",
		"--stratum-listen", "0.0.0.0:3333", "--http-listen", "0.0.0.0:8080", "--log-format", "json", "--rpc-user", "u"}
	if !slices.Equal(s, want) {
		t.Errorf("ServerArgs = %q, want %q", s, want)
	}
	w := WorkerArgs("svc:3333", "hashfleet.ab12", 2.5)
	if want := []string{"worker", "-o", "stratum+tcp://svc:3333", "-u", "hashfleet.ab12", "-t", "2", "--log-format", "json"}; !slices.Equal(w, want) {
		t.Errorf("WorkerArgs = %q, want %q", w, want)
	}
	if got := WorkerName("hashfleet", "hashfleet-worker-n3x0123456"); got != "hashfleet.n3x01234" {
		t.Errorf("WorkerName = %q, want hashfleet.n3x01234", got)
	}
}

func TestCheckPayout(t *testing.T) {
	const regtest = "bcrt1qp69lntsjkuzccuwdgqskuuatgu7umyvrnhr4lv"
	const testnet = "tb1qsfchrtwc7ytaj2z2jgcuqffq5gdc9ah8803z2x"
	for _, c := range []struct {
		network, payout string
		want            string // "" for no error, else a part of the message
	}{
		{"regtest", regtest, ""},
		{"", regtest, ""}, // the default network is regtest
		{"testnet4", testnet, ""},
		{"testnet", testnet, ""},
		{"regtest", testnet, "not a regtest address"},
		{"mainnet", regtest, "not a mainnet address"},
		{"regtest", "bcrt1qexample", "cannot decode"},
		{"regtest", "", "empty"},
		{"testnet5", testnet, "unknown network"},
	} {
		err := CheckPayout(c.network, c.payout)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckPayout(%q, %q) = %v, want nil", c.network, c.payout, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckPayout(%q, %q) = %v, want an error with %q", c.network, c.payout, err, c.want)
		}
	}
}
