package client

import (
	"testing"

	"github.com/mqstore/mqstore/message"
)

func TestCountRecords(t *testing.T) {
	var body []byte
	for i := range 5 {
		var err error
		if body, err = message.AppendRecord(body, message.New("T", make([]byte, 10*i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		body  []byte
		limit int
		want  int
	}{
		{body, 32, 5},
		{body, 3, 3},
		{nil, 32, 0},
		{body[:len(body)-1], 32, 5}, // the torn last record still counts: decodeRecords reports it
		{[]byte{0, 0, 0, 0}, 32, 1}, // a zero size counts once
	} {
		if got := countRecords(tc.body, tc.limit); got != tc.want {
			t.Errorf("countRecords(%d bytes, %d) = %d, want %d", len(tc.body), tc.limit, got, tc.want)
		}
	}
}
