package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The broker's config files live under <storePathRootDir>/config (RocketMQ's names and JSON
// shapes, so a directory moves between RocketMQ and mqstore):
//
//	topics.json             {"topicConfigTable":{"T":{"topicName":"T","readQueueNums":4,...}},
//	                         "dataVersion":{"timestamp":1700000000000,"counter":3}}
//	consumerOffset.json     {"offsetTable":{"T@group":{"0":12,"1":34}}}
//	subscriptionGroup.json  {"subscriptionGroupTable":{"g":{"groupName":"g",...}},"dataVersion":{...}}
//
// RocketMQ (fastjson) writes integer map keys unquoted ({0:12}); readJSONFile accepts both forms
// and mqstore writes standard JSON, which RocketMQ reads too. Files are replaced atomically:
// written to <name>.tmp, fsynced, renamed over <name>, and the directory fsynced, so a crash
// leaves the old or the new content, never a torn file. Like RocketMQ, the previous content is
// kept in <name>.bak, which is read when <name> is missing.
const (
	topicsFile         = "topics.json"
	consumerOffsetFile = "consumerOffset.json"
	subscriptionFile   = "subscriptionGroup.json"
)

// maxConfigFileSize caps a config file read at start.
const maxConfigFileSize = 256 << 20

// writeFileAtomic replaces path with data: temp file, fsync, keep the old file as .bak, rename,
// fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && !bytes.Equal(old, data) {
		// Best effort, as RocketMQ's MixAll.string2File: the .bak is only a fallback.
		_ = os.WriteFile(path+".bak", old, 0o644)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readJSONFile decodes path (or its .bak when path is missing) into v. A missing file leaves v
// untouched and returns nil.
func readJSONFile(path string, v any) error {
	data, err := readCapped(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = readCapped(path + ".bak")
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(quoteBareKeys(data), v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrConfigFile, path, err)
	}
	return nil
}

func readCapped(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxConfigFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrConfigFile, path, maxConfigFileSize)
	}
	return os.ReadFile(path)
}

// quoteBareKeys rewrites fastjson's unquoted object keys ({0:12,-1:3}) as strings ({"0":12}),
// leaving string contents alone. Input that is not JSON-like passes through for json.Unmarshal
// to reject.
func quoteBareKeys(in []byte) []byte {
	out := make([]byte, 0, len(in)+len(in)/8)
	inString := false
	expectKey := false // after '{' or ',' inside an object
	var stack []byte   // open brackets
	for i := 0; i < len(in); i++ {
		c := in[i]
		if inString {
			out = append(out, c)
			switch c {
			case '\\':
				if i+1 < len(in) {
					i++
					out = append(out, in[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			expectKey = false
			out = append(out, c)
		case '{', '[':
			stack = append(stack, c)
			expectKey = c == '{'
			out = append(out, c)
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
			out = append(out, c)
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
			out = append(out, c)
		case ' ', '\t', '\n', '\r':
			out = append(out, c)
		default:
			if expectKey && (c == '-' || c >= '0' && c <= '9') {
				j := i + 1
				for j < len(in) && in[j] >= '0' && in[j] <= '9' {
					j++
				}
				out = append(out, '"')
				out = append(out, in[i:j]...)
				out = append(out, '"')
				i = j - 1
				expectKey = false
				continue
			}
			expectKey = false
			out = append(out, c)
		}
	}
	return out
}
