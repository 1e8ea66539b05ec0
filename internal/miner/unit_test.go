package miner

import (
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     Endpoint
		wantUser string
		wantPass string
		wantErr  bool
	}{
		{name: "tcp", in: "stratum+tcp://pool.example:3333", want: Endpoint{Host: "pool.example", Port: 3333}},
		{name: "ssl", in: "stratum+ssl://pool.example:443", want: Endpoint{Host: "pool.example", Port: 443, TLS: true}},
		{name: "tcps", in: "stratum+tcps://pool.example:443", want: Endpoint{Host: "pool.example", Port: 443, TLS: true}},
		{name: "bare", in: "10.0.0.1:3333", want: Endpoint{Host: "10.0.0.1", Port: 3333}},
		{name: "ipv6", in: "stratum+tcp://[::1]:3333", want: Endpoint{Host: "::1", Port: 3333}},
		{name: "userinfo", in: "stratum+tcp://u.w:p@h:1", want: Endpoint{Host: "h", Port: 1}, wantUser: "u.w", wantPass: "p"},
		{name: "no port", in: "stratum+tcp://h", wantErr: true},
		{name: "bad port", in: "stratum+tcp://h:99999", wantErr: true},
		{name: "http", in: "http://h:1", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, user, pass, err := ParseURL(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got err %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want || user != tt.wantUser || pass != tt.wantPass {
				t.Errorf("got %+v %q %q, want %+v %q %q", got, user, pass, tt.want, tt.wantUser, tt.wantPass)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	if got, want := redactURL("stratum+tcp://u:secret@h:1"), "stratum+tcp://***@h:1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDeposit(t *testing.T) {
	tests := []struct {
		v, mask, want uint32
	}{
		{0, 0x1fffe000, 0},
		{1, 0x1fffe000, 0x2000},
		{2, 0x1fffe000, 0x4000},
		{0xffff, 0x1fffe000, 0x1fffe000},
		{0x1ffff, 0x1fffe000, 0x1fffe000},
		{5, 0b1010_1000, 0b1000_1000},
		{3, 0, 0},
	}
	for _, tt := range tests {
		if got := deposit(tt.v, tt.mask); got != tt.want {
			t.Errorf("deposit(%x, %x): got %x, want %x", tt.v, tt.mask, got, tt.want)
		}
	}
}

func TestRolledVersionStaysInMask(t *testing.T) {
	w := &work{vmask: 0x1fffe000}
	w.bw.Version = 0x20000000
	seen := map[uint32]bool{}
	for i := range w.versionRolls() {
		v := w.rolledVersion(i)
		if v&^w.vmask != 0x20000000 {
			t.Fatalf("roll %d: got %08x, want only mask bits changed", i, v)
		}
		if seen[v] {
			t.Fatalf("roll %d: version %08x repeated", i, v)
		}
		seen[v] = true
	}
	if got, want := len(seen), 1<<16; got != want {
		t.Errorf("got %d distinct versions, want %d", got, want)
	}
	if got := w.rolledVersion(0); got != 0x20000000 {
		t.Errorf("roll 0: got %08x, want the job version", got)
	}
}

func TestExtranonce2Counter(t *testing.T) {
	w := &work{en2Size: 4}
	want := [][]byte{{0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0}}
	for i, wv := range want {
		if got := w.nextExtranonce2(); string(got) != string(wv) {
			t.Errorf("call %d: got %x, want %x", i, got, wv)
		}
	}
	w2 := &work{en2Size: 2}
	w2.en2Next.Store(0x1ff)
	if got := w2.nextExtranonce2(); string(got) != string([]byte{0xff, 0x01}) {
		t.Errorf("got %x, want ff01", got)
	}
}

func TestFormatHashRate(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0.00 H/s"}, {999, "999.00 H/s"}, {4_980_000, "4.98 MH/s"}, {22.9e9, "22.90 GH/s"},
	}
	for _, tt := range tests {
		if got := FormatHashRate(tt.in); got != tt.want {
			t.Errorf("FormatHashRate(%g): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "no pools", cfg: Config{}, wantErr: true},
		{name: "no user", cfg: Config{Pools: []Pool{{URL: "h:1"}}}, wantErr: true},
		{name: "user in url", cfg: Config{Pools: []Pool{{URL: "stratum+tcp://u:p@h:1"}}}, wantErr: true}, // no logger
		{name: "negative threads", cfg: Config{Pools: []Pool{{URL: "h:1", User: "u"}}, Threads: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("got %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}
