package output

import (
	"bytes"
	"strings"
	"testing"
)

func TestRenderMatchesReference(t *testing.T) {
	// The changer config table from the reference's tape chapter.
	want := `┌──────┬─────────────────────────────┐
│ Name │ Value                       │
╞══════╪═════════════════════════════╡
│ name │ sl3                         │
├──────┼─────────────────────────────┤
│ path │ /dev/tape/by-id/scsi-CC2C52 │
└──────┴─────────────────────────────┘
`
	got := Render(KV([2]string{"name", "sl3"}, [2]string{"path", "/dev/tape/by-id/scsi-CC2C52"}))
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRenderEmptyAndShortRows(t *testing.T) {
	tb := &Table{Columns: []string{"a", "bb"}}
	got := Render(tb)
	if !strings.Contains(got, "│ a │ bb │") || strings.Count(got, "\n") != 4 {
		t.Fatalf("empty table:\n%s", got)
	}
	tb.Add("x")
	got = Render(tb)
	if !strings.Contains(got, "│ x │    │") {
		t.Fatalf("short row not padded:\n%s", got)
	}
}

func TestPrintJSON(t *testing.T) {
	var b bytes.Buffer
	v := []map[string]any{{"name": "sl3", "slots": 16}}
	if err := Print(&b, JSON, nil, v); err != nil {
		t.Fatal(err)
	}
	if b.String() != `[{"name":"sl3","slots":16}]`+"\n" {
		t.Fatalf("json: %q", b.String())
	}
	b.Reset()
	if err := Print(&b, JSONPretty, nil, v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n  {\n    \"name\": \"sl3\",") {
		t.Fatalf("json-pretty: %q", b.String())
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"text", "json", "json-pretty", ""} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Error("yaml accepted")
	}
}

func TestStructKV(t *testing.T) {
	v := struct {
		A    int    `json:"a-b"`
		B    string `json:"b,omitempty"`
		C    bool
		skip int
		D    int `json:"-"`
	}{1, "x", true, 2, 3}
	got := StructKV(v)
	want := [][]string{{"a-b", "1"}, {"b", "x"}, {"C", "true"}}
	if len(got.Rows) != len(want) {
		t.Fatalf("rows %v", got.Rows)
	}
	for i := range want {
		if got.Rows[i][0] != want[i][0] || got.Rows[i][1] != want[i][1] {
			t.Errorf("row %d = %v, want %v", i, got.Rows[i], want[i])
		}
	}
}
