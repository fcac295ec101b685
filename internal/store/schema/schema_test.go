package schema

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrationNumbering(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  string // part of the error; "" for none
	}{
		{"in order", []string{"0001_a.sql", "0002_b.sql"}, ""},
		{"sorted by number, not name", []string{"0010_j.sql", "0002_b.sql", "0001_a.sql", "0003_c.sql", "0004_d.sql",
			"0005_e.sql", "0006_f.sql", "0007_g.sql", "0008_h.sql", "0009_i.sql"}, ""},
		{"a gap", []string{"0001_a.sql", "0003_c.sql"}, "expected version 2"},
		{"a repeat", []string{"0001_a.sql", "0001_b.sql"}, "expected version 2"},
		{"starting at 2", []string{"0002_b.sql"}, "expected version 1"},
		{"no number", []string{"init.sql"}, "NNNN_description.sql"},
		{"version 0", []string{"0000_zero.sql"}, "NNNN_description.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			fsys["m/README.md"] = &fstest.MapFile{Data: []byte("not a migration")}
			ms, err := Load(fsys, "m")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want == "":
				for i, m := range ms {
					if m.Version != i+1 {
						t.Errorf("migration %d is %s", i, m.Name)
					}
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
