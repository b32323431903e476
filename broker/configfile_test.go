package broker

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestQuoteBareKeys(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"offsetTable":{"T@g":{0:12,1:34}}}`, `{"offsetTable":{"T@g":{"0":12,"1":34}}}`},
		{`{"a":{ 0 :1, -1:2}}`, `{"a":{ "0" :1, "-1":2}}`},
		{`{"s":"{0:1}","n":[1,2,{3:4}]}`, `{"s":"{0:1}","n":[1,2,{"3":4}]}`},
		{`{"esc":"a\"{0:1}"}`, `{"esc":"a\"{0:1}"}`},
		{`{"0":1}`, `{"0":1}`},
	}
	for _, tt := range tests {
		if got := string(quoteBareKeys([]byte(tt.in))); got != tt.want {
			t.Errorf("quoteBareKeys(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestReadLegacyConsumerOffsets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, consumerOffsetFile)
	legacy := `{"offsetTable":{"TopicTest@please_rename_unique_group_name_4":{0:250,1:249,2:250,3:251},
	"%RETRY%g@g":{0:0}}}`
	if err := os.WriteFile(path, []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	o := newOffsetTable(nil, path)
	if err := o.load(); err != nil {
		t.Fatal(err)
	}
	if off, ok := o.query("please_rename_unique_group_name_4", "TopicTest", 3); !ok || off != 251 {
		t.Fatalf("offset %d %v", off, ok)
	}
	if _, ok := o.query("g", "%RETRY%g", 0); !ok {
		t.Fatal("retry offset missing")
	}
	// Written back as standard JSON, read again.
	if err := o.persist(true); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var f offsetsFileContent
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("written file is not standard JSON: %v: %s", err, data)
	}
	o2 := newOffsetTable(nil, path)
	if err := o2.load(); err != nil {
		t.Fatal(err)
	}
	if off, _ := o2.query("please_rename_unique_group_name_4", "TopicTest", 1); off != 249 {
		t.Fatalf("reloaded offset %d", off)
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	var v map[string]any
	if err := readJSONFile(path, &v); err != nil || v != nil {
		t.Fatalf("missing file: %v %v", v, err)
	}
	os.WriteFile(path, []byte("{not json"), 0o644)
	if err := readJSONFile(path, &v); !errors.Is(err, ErrConfigFile) {
		t.Fatalf("malformed file: %v", err)
	}
	// A missing file falls back to its .bak.
	os.Remove(path)
	os.WriteFile(path+".bak", []byte(`{"a":1}`), 0o644)
	if err := readJSONFile(path, &v); err != nil || v["a"] != float64(1) {
		t.Fatalf(".bak fallback: %v %v", v, err)
	}
	bad := newOffsetTable(nil, filepath.Join(dir, "o.json"))
	os.WriteFile(bad.path, []byte(`{"offsetTable":{"nogroup":{0:1}}}`), 0o644)
	if err := bad.load(); !errors.Is(err, ErrConfigFile) {
		t.Fatalf("key without @: %v", err)
	}
}

func TestWriteConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f.json")
	for _, content := range []string{"one", "two"} {
		if err := writeConfigFile(nil, path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Fatalf("content %q, want %q", got, content)
		}
	}
	if got, _ := os.ReadFile(path + ".bak"); string(got) != "one" {
		t.Fatalf(".bak %q", got)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temp file left: %v", err)
	}
}
