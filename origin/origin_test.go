package origin

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// table is testdata/origins.json, which the stacks' and the service's tests
// read too.
type table struct {
	Good []string          `json:"good"`
	Bad  map[string]string `json:"bad"`
}

func readTable(t *testing.T) table {
	t.Helper()
	data, err := os.ReadFile("testdata/origins.json")
	if err != nil {
		t.Fatal(err)
	}
	var tt table
	if err := json.Unmarshal(data, &tt); err != nil {
		t.Fatal(err)
	}
	if len(tt.Good) == 0 || len(tt.Bad) == 0 {
		t.Fatal("origins.json has an empty list")
	}
	return tt
}

func TestParseList(t *testing.T) {
	tt := readTable(t)
	for _, v := range tt.Good {
		if _, err := ParseList(v); err != nil {
			t.Errorf("ParseList(%q) = %v, want it accepted", v, err)
		}
	}
	for v, reason := range tt.Bad {
		_, err := ParseList(v)
		if err == nil || !strings.HasSuffix(err.Error(), ": "+reason) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseList(%q) = %v, want one line ending in %q", v, err, reason)
		}
	}
}

func TestParseListResult(t *testing.T) {
	for in, want := range map[string]string{
		" * ": "*",
		"https://a.example.com, http://localhost:3000": "https://a.example.com|http://localhost:3000",
	} {
		got, err := ParseList(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("ParseList(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
