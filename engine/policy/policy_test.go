package policy

import (
	"testing"
	"time"

	"tapefs/engine/config"
)

func TestPoolFromConfig(t *testing.T) {
	tests := []struct {
		alloc, retention string
		always, event    bool
		overwrite        bool
		span             time.Duration
		wantErr          bool
	}{
		{alloc: "", retention: ""},
		{alloc: "continue", retention: "keep"},
		{alloc: "always", retention: "overwrite", always: true, overwrite: true},
		{alloc: "daily", retention: "7days", event: true, span: 7 * 24 * time.Hour},
		{alloc: "mon..fri 18:00", retention: "2 weeks", event: true, span: 14 * 24 * time.Hour},
		{alloc: "sometimes", wantErr: true},
		{retention: "forever", wantErr: true},
	}
	for _, tc := range tests {
		p, err := PoolFromConfig(config.Pool{Name: "daily", Allocation: tc.alloc, Retention: tc.retention, Encrypt: key})
		if tc.wantErr {
			if err == nil {
				t.Errorf("PoolFromConfig(%q, %q) succeeded, want an error", tc.alloc, tc.retention)
			}
			continue
		}
		if err != nil {
			t.Errorf("PoolFromConfig(%q, %q): %v", tc.alloc, tc.retention, err)
			continue
		}
		if p.Name != "daily" || p.EncryptKey != key || p.Allocation.Always != tc.always ||
			(p.Allocation.Event != nil) != tc.event || p.Retention.Overwrite != tc.overwrite || p.Retention.Span != tc.span {
			t.Errorf("PoolFromConfig(%q, %q) = %+v", tc.alloc, tc.retention, p)
		}
	}
}
