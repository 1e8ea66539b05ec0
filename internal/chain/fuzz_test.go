package chain

import (
	"os"
	"path/filepath"
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
// never a panic.
func FuzzDecodeResponse(f *testing.F) {
	addFixtureSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := decodeResponse("fuzz", data)
		if err == nil && res == nil {
			t.Fatal("no result and no error")
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
