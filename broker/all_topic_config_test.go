package broker

import (
	"encoding/json"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestGetAllTopicConfig(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("ListedT", 1)
	resp := tb.call(remoting.RequestGetAllTopicConfig, nil)
	expect(t, resp, remoting.ResponseSuccess)
	var body topicsFileContent
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatal(err)
	}
	if tc := body.TopicConfigTable["ListedT"]; tc.WriteQueueNums != 4 {
		t.Fatalf("ListedT %+v", tc)
	}
	if tc := body.TopicConfigTable["TBW102"]; tc.Perm != 7 || tc.WriteQueueNums != 8 {
		t.Fatalf("TBW102 %+v", tc)
	}
	if body.DataVersion.Counter == 0 {
		t.Fatal("no data version")
	}
}
