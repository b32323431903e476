package remoting

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// chunkReader delivers data in chunks whose sizes cycle through sizes, as
// TCP may split a stream anywhere.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func fuzzSeedFrames() [][]byte {
	var seeds [][]byte
	for _, tt := range goldenTests {
		c := tt.cmd()
		c.SerializeType = tt.typ
		f, _ := AppendFrame(nil, c)
		seeds = append(seeds, f)
	}
	two, _ := AppendFrame(nil, &Command{Code: 34, Body: []byte("{}")})
	two, _ = AppendFrame(two, &Command{Code: 11, SerializeType: SerializeRocketMQ, Flag: FlagResponse, Body: bytes.Repeat([]byte("x"), 3000)})
	return append(seeds, two, []byte{0x80, 0, 0, 0}, []byte{0, 0, 0, 4, 0, 0, 0, 0}, []byte("GET / HTTP/1.1\r\n\r\n"))
}

const fuzzMaxFrame = 64 << 10

// FuzzFrameReader feeds arbitrary bytes in arbitrary chunks to the frame
// reader: it must not panic, must stop at the first error, must not hold a
// body larger than the frame limit, and every decoded command must encode
// back to a frame that decodes to the same command.
func FuzzFrameReader(f *testing.F) {
	for _, s := range fuzzSeedFrames() {
		f.Add(s, []byte{0})
		f.Add(s, []byte{3, 200, 7})
	}
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		fr := NewFrameReader(&chunkReader{data: data, sizes: chunks}, 512, fuzzMaxFrame)
		for range 1000 {
			c, err := fr.ReadCommand()
			if err != nil {
				return
			}
			if cap(c.Body) > fuzzMaxFrame {
				t.Fatalf("body buffer of %d bytes over the %d limit", cap(c.Body), fuzzMaxFrame)
			}
			roundTrip(t, c)
			c.Release()
		}
	})
}

func roundTrip(t *testing.T, c *Command) {
	t.Helper()
	enc, err := AppendFrame(nil, c)
	if err != nil {
		if errors.Is(err, ErrFieldTooLong) || errors.Is(err, ErrFrameTooLarge) {
			return // e.g. a JSON-decoded code beyond int16 cannot be re-encoded
		}
		t.Fatalf("re-encode %v: %v", c, err)
	}
	back, err := NewFrameReader(bytes.NewReader(enc), 512, 1<<30).ReadCommand()
	if err != nil {
		t.Fatalf("decode of re-encoded %v: %v\n%q", c, err, enc)
	}
	want := *c
	if c.SerializeType == SerializeJSON && int(c.Language) >= len(languageNames) {
		want.Language = LanguageOther // JSON writes names only
	}
	checkSame(t, back, &want)
	back.Release()
}

// FuzzJSONHeader decodes arbitrary JSON headers: no panic, and a decoded
// header re-encodes to one that decodes the same.
func FuzzJSONHeader(f *testing.F) {
	for _, tt := range goldenTests {
		if tt.typ == SerializeJSON {
			f.Add([]byte(tt.header))
		}
	}
	f.Add([]byte(`{"code":310,"language":"GO","version":317,"opaque":8,"flag":0,"remark":"","extFields":{"a":"\u003c\ud83d\ude00"}}`))
	f.Add([]byte(`{"code":1,"language":200,"extFields":{"n":1.5e3,"o":{"k":[true,null]}}}`))
	f.Add([]byte(`{"extFields":{"":""},"remark":"\u0000"}`))
	f.Add([]byte(` { "code" : -5 , "x":"y","t":true,"n":null,"extFields" : { "k" : "\u00e9\n\/" } } `))
	f.Fuzz(func(t *testing.T, header []byte) {
		// Differential: wherever the fast scanner accepts, fastjson must
		// accept and agree.
		var fast, slow Command
		var df, ds jsonDecoder
		df.spans = []int{0, 0}
		if df.scan(header, &fast) {
			df.finish(&fast)
			ds.spans = []int{0, 0}
			if err := ds.parse(header, &slow); err != nil {
				t.Fatalf("scanner accepted what fastjson rejects (%v): %q", err, header)
			}
			ds.finish(&slow)
			checkSame(t, &fast, &slow)
		}

		c := acquireCommand()
		defer c.Release()
		if err := decodeJSONHeader(header, c); err != nil {
			if !errors.Is(err, ErrMalformedHeader) {
				t.Fatalf("error %v is not ErrMalformedHeader", err)
			}
			return
		}
		roundTrip(t, c)
	})
}

// FuzzBinaryHeader decodes arbitrary ROCKETMQ headers: no panic, and a
// decoded header re-encodes to the same bytes (up to trailing bytes).
func FuzzBinaryHeader(f *testing.F) {
	for _, tt := range goldenTests {
		if tt.typ == SerializeRocketMQ {
			f.Add([]byte(mustHex(tt.header)))
		}
	}
	f.Add(make([]byte, binaryHeaderFixedSize))
	f.Add([]byte{0, 1, 9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, header []byte) {
		c := acquireCommand()
		defer c.Release()
		if err := decodeBinaryHeader(header, c); err != nil {
			if !errors.Is(err, ErrMalformedHeader) {
				t.Fatalf("error %v is not ErrMalformedHeader", err)
			}
			return
		}
		enc, err := appendBinaryHeader(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(header, enc) {
			t.Fatalf("re-encoded %x\n  is not a prefix of %x", enc, header)
		}
	})
}

func mustHex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
	return b
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - '0'
	}
}
