package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func addFixtureSeeds(f *testing.F, result bool) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		fx := loadFixture(f, filepath.Base(name[:len(name)-len(".json")]))
		if result {
			if fx.Body != nil {
				f.Add([]byte(fx.result(f)))
			}
		} else {
			f.Add(fx.body())
		}
		_ = b
	}
	f.Add([]byte(`{"result":null,"error":null,"id":1}`))
	f.Add([]byte(``))
	f.Add([]byte(`{"error":{"code":"x"}}`))
}

// FuzzDecodeResponse: any reply body decodes to a result or a typed error,
// never a panic; a result or RPC error encoded again as a reply decodes to
// the same.
func FuzzDecodeResponse(f *testing.F) {
	addFixtureSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := decodeResponse("fuzz", data)
		if err == nil && res == nil {
			t.Fatal("no result and no error")
		}
		// Round trip: the decoded result or RPC error, encoded as a
		// JSON-RPC reply, decodes to the same result or error.
		var reply []byte
		var rpcErr *RPCError
		switch {
		case err == nil:
			reply, err = json.Marshal(map[string]any{"result": res, "error": nil, "id": 1})
		case errors.As(err, &rpcErr):
			reply, err = json.Marshal(map[string]any{"result": nil, "id": 1,
				"error": map[string]any{"code": rpcErr.Code, "message": rpcErr.Message}})
		default:
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is neither *RPCError nor *DecodeError", err, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("encode the reply: %v", err)
		}
		res2, err2 := decodeResponse("fuzz", reply)
		if rpcErr != nil {
			var e2 *RPCError
			if !errors.As(err2, &e2) || *e2 != *rpcErr {
				t.Fatalf("round trip of %s via %s: got %v, want %v", data, reply, err2, rpcErr)
			}
			return
		}
		if err2 != nil || !jsonEqual(res, res2) {
			t.Fatalf("round trip of %s via %s: got %s, %v, want %s", data, reply, res2, err2, res)
		}
	})
}

// FuzzParseTemplate: any result decodes to a consistent template or a
// *TemplateError, never a panic.
func FuzzParseTemplate(f *testing.F) {
	addFixtureSeeds(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := ParseTemplate(data)
		if err != nil {
			if tpl != nil {
				t.Fatal("template and error")
			}
			return
		}
		if tpl.MinTime == 0 || tpl.Target == ([32]byte{}) {
			t.Fatalf("accepted template with zero mintime or target: %+v", tpl)
		}
		if tpl.WitnessCommitment != nil && len(tpl.WitnessCommitment) != 38 {
			t.Fatalf("commitment of %d bytes", len(tpl.WitnessCommitment))
		}
	})
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}
