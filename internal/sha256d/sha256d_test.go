package sha256d

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/hashfleet/hashfleet/internal/parts/partstest"
)

// header is an 80-byte block header under test.
type header [80]byte

func mustHeader(t testing.TB, s string) header {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 80 {
		t.Fatalf("bad header hex %q: %v", s, err)
	}
	return header(b)
}

func (h header) split() (Midstate, [16]byte) {
	return NewMidstate((*[64]byte)(h[:64])), [16]byte(h[64:])
}

func (h header) nonce() uint32 { return binary.LittleEndian.Uint32(h[76:]) }

// refHash is the reference: crypto/sha256 twice over the serialized header.
func refHash(h header, nonce uint32) [32]byte {
	binary.LittleEndian.PutUint32(h[76:], nonce)
	a := sha256.Sum256(h[:])
	return sha256.Sum256(a[:])
}

// refScan is the reference Scan built on refHash.
func refScan(h header, target *[32]byte, base, n uint32) (uint32, bool) {
	for i := range n {
		if x := refHash(h, base+i); meetsTarget(&x, target) {
			return base + i, true
		}
	}
	return 0, false
}

// reversed turns display hex into internal byte order.
func reversed(t testing.TB, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad hash hex %q: %v", s, err)
	}
	var out [32]byte
	for i := range 32 {
		out[i] = b[31-i]
	}
	return out
}

// compactTarget expands nbits (no sign / overflow handling: test inputs only).
func compactTarget(bits uint32) [32]byte {
	var t [32]byte
	exp := int(bits >> 24)
	mant := bits & 0x007fffff
	for i := range 3 {
		pos := exp - 3 + i
		if pos >= 0 && pos < 32 {
			t[pos] = byte(mant >> (8 * i))
		}
	}
	return t
}

// topTarget returns the target whose 4 most significant bytes (as a
// little-endian number) are top and whose other bytes are 0xff.
func topTarget(top uint32) [32]byte {
	var t [32]byte
	for i := range t {
		t[i] = 0xff
	}
	binary.LittleEndian.PutUint32(t[28:], top)
	return t
}

// minus1 returns x-1 (little-endian); x must be nonzero.
func minus1(x [32]byte) [32]byte {
	for i := range x {
		x[i]--
		if x[i] != 0xff {
			break
		}
	}
	return x
}

const (
	genesisHex     = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
	block125552Hex = "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122bc7f5d74df2b9441a42a14695"
)

func TestPrepOffsets(t *testing.T) {
	var p prep
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{name: "ms", got: unsafe.Offsetof(p.ms), want: prepOffMS},
		{name: "st", got: unsafe.Offsetof(p.st), want: prepOffSt},
		{name: "w", got: unsafe.Offsetof(p.w), want: prepOffW},
		{name: "pre3", got: unsafe.Offsetof(p.pre3), want: prepOffPre3},
		{name: "w16", got: unsafe.Offsetof(p.w16), want: prepOffW16},
		{name: "msABEF", got: unsafe.Offsetof(p.msABEF), want: prepOffMsABEF},
		{name: "st2ABEF", got: unsafe.Offsetof(p.st2ABEF), want: prepOffSt2ABEF},
		{name: "jw", got: unsafe.Offsetof(p.jw), want: prepOffJW},
		{name: "size", got: unsafe.Sizeof(p), want: prepSize},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got offset %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestNewMidstate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		var b [64]byte
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		h := sha256.New()
		h.Write(b[:])
		st, err := h.(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var want Midstate
		for j := range want {
			want[j] = binary.BigEndian.Uint32(st[4+4*j:])
		}
		if got := NewMidstate(&b); got != want {
			t.Errorf("case %d: got %08x, want %08x", i, got, want)
		}
	}
}

func TestSumAndHash(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   string // display order
	}{
		{name: "genesis", header: genesisHex, want: "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"},
		{name: "block125552", header: block125552Hex, want: "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustHeader(t, tt.header)
			want := reversed(t, tt.want)
			if got := Sum(h[:]); got != want {
				t.Errorf("Sum: got %x, want %x", got, want)
			}
			ms, tail := h.split()
			if got := Hash(&ms, &tail, h.nonce()); got != want {
				t.Errorf("Hash: got %x, want %x", got, want)
			}
		})
	}
}

// forEachImpl runs f for every implementation as a subtest. One this CPU
// cannot run is skipped only when /proc/cpuinfo agrees that the CPU lacks
// it; if the kernel advertises the features but detection does not see
// them, the subtest fails (partstest.RequireCPU).
func forEachImpl(t *testing.T, f func(t *testing.T, im Impl)) {
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			if !im.Available {
				if len(im.CPUFlags) == 0 {
					t.Fatalf("%s: unavailable (%s) and no CPU features listed for it", im.Name, im.Missing)
				}
				partstest.RequireCPU(t, im.Name+" kernel", false, im.CPUFlags...)
			}
			f(t, im)
		})
	}
}

func TestMain(m *testing.M) { partstest.Main(m) }

// easyHeader is a fixed header (block 125552 with a different merkle tail
// and time) whose first nonce from 0 meeting easyTarget is easyNonce.
const (
	easyHeaderHex = "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc1200c8f5d74df2b9441a00000000"
	easyTop       = 0x0000ffff // about one hash in 65536
)

func TestGolden(t *testing.T) {
	easy := topTarget(easyTop)
	easyNonce := uint32(easyNonceWant)
	forEachImpl(t, func(t *testing.T, im Impl) {
		tests := []struct {
			name      string
			header    string
			target    [32]byte
			base, n   uint32
			wantNonce uint32
			wantOK    bool
		}{
			{name: "genesis window", header: genesisHex, target: compactTarget(0x1d00ffff), base: 0x7c2bac1d - 3000, n: 6000, wantNonce: 0x7c2bac1d, wantOK: true},
			{name: "genesis exact", header: genesisHex, target: reversed(t, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"), base: 0x7c2bac1d, n: 1, wantNonce: 0x7c2bac1d, wantOK: true},
			{name: "genesis exact minus one", header: genesisHex, target: minus1(reversed(t, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")), base: 0x7c2bac1d, n: 1},
			{name: "block125552 window", header: block125552Hex, target: compactTarget(0x1a44b9f2), base: 0x9546a142 - 3000, n: 6000, wantNonce: 0x9546a142, wantOK: true},
			{name: "block125552 miss before", header: block125552Hex, target: compactTarget(0x1a44b9f2), base: 0x9546a142 - 3000, n: 3000},
			{name: "easy target hit", header: easyHeaderHex, target: easy, base: 0, n: easyNonce + 1000, wantNonce: easyNonce, wantOK: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ms, tail := mustHeader(t, tt.header).split()
				got, ok := im.Scan(&ms, &tail, &tt.target, tt.base, tt.n)
				if ok != tt.wantOK || got != tt.wantNonce {
					t.Errorf("got (%#x, %v), want (%#x, %v)", got, ok, tt.wantNonce, tt.wantOK)
				}
			})
		}
	})
}

// easyNonceWant is the first nonce of easyHeaderHex meeting topTarget(easyTop),
// computed with crypto/sha256 (TestEasyGolden re-derives it).
const easyNonceWant = 64772

func TestEasyGolden(t *testing.T) {
	h := mustHeader(t, easyHeaderHex)
	target := topTarget(easyTop)
	got, ok := refScan(h, &target, 0, 1<<20)
	if !ok || got != easyNonceWant {
		t.Errorf("crypto/sha256 reference: got (%d, %v), want (%d, true)", got, ok, easyNonceWant)
	}
}

func TestScanRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	forEachImpl(t, func(t *testing.T, im Impl) {
		for i := range 12 {
			var h header
			for j := range h {
				h[j] = byte(r.Uint32())
			}
			base := r.Uint32()
			if i == 0 {
				base = 0xffffff00 // wraps around 2^32
			}
			const n = 1500
			ms, tail := h.split()
			// An easy target (many hits), an exact hash (the equality edge in
			// the H7 early exit) and one just below it.
			pick := base + uint32(r.IntN(n))
			exact := refHash(h, pick)
			targets := map[string][32]byte{
				"top 1/64":   topTarget(0x03ffffff),
				"top 1/4096": topTarget(0x000fffff),
				"exact":      exact,
				"exact-1":    minus1(exact),
				"zero":       {},
			}
			for name, target := range targets {
				wantN, wantOK := refScan(h, &target, base, n)
				gotN, gotOK := im.Scan(&ms, &tail, &target, base, n)
				if gotN != wantN || gotOK != wantOK {
					t.Errorf("header %d target %s base %#x: got (%#x, %v), want (%#x, %v)", i, name, base, gotN, gotOK, wantN, wantOK)
				}
			}
		}
	})
}

func TestScanAcrossChunks(t *testing.T) {
	h := mustHeader(t, block125552Hex)
	ms, tail := h.split()
	base := uint32(12345)
	pick := base + 2*asmChunk + 77
	target := refHash(h, pick)
	wantN, wantOK := refScan(h, &target, base, pick-base+1)
	forEachImpl(t, func(t *testing.T, im Impl) {
		gotN, gotOK := im.Scan(&ms, &tail, &target, base, 3*asmChunk)
		if gotN != wantN || gotOK != wantOK {
			t.Errorf("got (%#x, %v), want (%#x, %v)", gotN, gotOK, wantN, wantOK)
		}
	})
}

func TestScanZeroCount(t *testing.T) {
	h := mustHeader(t, genesisHex)
	ms, tail := h.split()
	target := topTarget(0xffffffff)
	forEachImpl(t, func(t *testing.T, im Impl) {
		if got, ok := im.Scan(&ms, &tail, &target, 5, 0); ok {
			t.Errorf("n=0: got (%d, true), want (_, false)", got)
		}
	})
}

func TestScanNoAllocs(t *testing.T) {
	h := mustHeader(t, genesisHex)
	ms, tail := h.split()
	target := compactTarget(0x1d00ffff)
	forEachImpl(t, func(t *testing.T, im Impl) {
		allocs := testing.AllocsPerRun(5, func() {
			im.Scan(&ms, &tail, &target, 0x7c2bac1d-100, 200)
		})
		if allocs != 0 {
			t.Errorf("got %v allocs per Scan, want 0", allocs)
		}
	})
}

func TestLookup(t *testing.T) {
	best, err := Lookup("auto")
	if err != nil {
		t.Fatalf("Lookup(auto): %v", err)
	}
	if !best.Available || best.Scan == nil {
		t.Errorf("Lookup(auto) = %+v, want an available implementation", best)
	}
	if g, err := Lookup("generic"); err != nil || g.Name != "generic" {
		t.Errorf("Lookup(generic) = %v, %v", g.Name, err)
	}
	if _, err := Lookup("nope"); err == nil || !bytes.Contains([]byte(err.Error()), []byte("generic")) {
		t.Errorf("Lookup(nope): got %v, want an error naming the supported implementations", err)
	}
	for _, im := range Impls() {
		_, err := Lookup(im.Name)
		if im.Available != (err == nil) {
			t.Errorf("Lookup(%s): available %v but err %v", im.Name, im.Available, err)
		}
	}
}

func FuzzScan(f *testing.F) {
	g := mustHeader(f, genesisHex)
	f.Add(g[:], uint32(0x7c2bac1d-10), uint16(20), uint32(0x0000ffff))
	f.Add(make([]byte, 80), uint32(0xfffffff0), uint16(40), uint32(0x0fffffff))
	f.Fuzz(func(t *testing.T, hb []byte, base uint32, n uint16, top uint32) {
		if len(hb) < 80 {
			return
		}
		h := header(hb[:80])
		n %= 512
		target := topTarget(top)
		wantN, wantOK := refScan(h, &target, base, uint32(n))
		ms, tail := h.split()
		for _, im := range Impls() {
			if !im.Available {
				continue
			}
			gotN, gotOK := im.Scan(&ms, &tail, &target, base, uint32(n))
			if gotN != wantN || gotOK != wantOK {
				t.Errorf("%s: got (%#x, %v), want (%#x, %v)", im.Name, gotN, gotOK, wantN, wantOK)
			}
		}
	})
}

func TestLookupUnsupported(t *testing.T) {
	saved := impls
	t.Cleanup(func() { impls = saved })
	impls = []Impl{
		{Name: "fast", Available: false, Scan: scanGeneric, Lanes: 16},
		{Name: "generic", Available: true, Scan: scanGeneric, Lanes: 1},
	}
	_, err := Lookup("fast")
	if err == nil {
		t.Fatal("Lookup(fast): got nil error, want one")
	}
	for _, want := range []string{`"fast"`, "not supported by this CPU", "supported: generic"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(fast) error %q lacks %q", err, want)
		}
	}
	if im, err := Lookup("auto"); err != nil || im.Name != "generic" {
		t.Errorf("Lookup(auto) = %q, %v; want generic", im.Name, err)
	}
}
