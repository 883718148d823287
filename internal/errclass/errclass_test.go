package errclass

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	notFound := New(NotFound, "not found")
	noKey := New(NoKey, "no key")
	busy := New(Busy, "busy")
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Other},
		{"plain", errors.New("x"), Other},
		{"sentinel", notFound, NotFound},
		{"wrapped", fmt.Errorf("pool p: %w", notFound), NotFound},
		{"deeply wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", busy)), Busy},
		// A missing key is also not found: the precedence says no key.
		{"two classes", fmt.Errorf("%w: %w", notFound, noKey), NoKey},
		{"joined", errors.Join(errors.New("x"), busy), Busy},
		{"canceled", fmt.Errorf("job: %w", context.Canceled), Canceled},
		{"deadline", context.DeadlineExceeded, Canceled},
		{"canceled first", errors.Join(busy, context.Canceled), Canceled},
	}
	for _, tt := range tests {
		if got := Of(tt.err); got != tt.want {
			t.Errorf("%s: Of = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !errors.Is(fmt.Errorf("w: %w", notFound), notFound) || errors.Is(New(NotFound, "not found"), notFound) {
		t.Error("sentinels of New are not distinct for errors.Is")
	}
}
