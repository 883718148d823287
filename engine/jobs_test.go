package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestJobRegistry(t *testing.T) {
	var r jobRegistry
	now := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var sunk []string
	ctx := WithLog(context.Background(), func(line string) { mu.Lock(); sunk = append(sunk, line); mu.Unlock() })
	first := r.start(ctx, "label TEST01L8", "d0", now)
	r.log(first, "labelled TEST01L8")
	other := r.start(context.Background(), "clean", "d1", now)
	r.log(other, "cleaned")
	if !slices.Equal(sunk, []string{"labelled TEST01L8"}) {
		t.Errorf("sink got %q, want only the first job's line", sunk)
	}
	r.finish(first, now.Add(time.Second))
	list := r.list()
	if len(list) != 2 || list[0].Running() || !list[1].Running() || list[0].ID != 1 || list[1].ID != 2 {
		t.Fatalf("list: %+v", list)
	}
	if !slices.Equal(list[0].Log, []string{"labelled TEST01L8"}) {
		t.Errorf("log of job 1: %q", list[0].Log)
	}

	// Finished jobs beyond the limit are dropped oldest first; running
	// jobs are kept.
	for i := 0; i < maxFinishedJobs+10; i++ {
		j := r.start(context.Background(), fmt.Sprintf("job %d", i), "d0", now)
		r.finish(j, now)
	}
	list = r.list()
	finished := 0
	for _, j := range list {
		if !j.Running() {
			finished++
		}
	}
	if finished != maxFinishedJobs {
		t.Errorf("%d finished jobs kept, want %d", finished, maxFinishedJobs)
	}
	if !slices.ContainsFunc(list, func(j JobInfo) bool { return j.ID == other.info.ID && j.Running() }) {
		t.Errorf("the running job was dropped")
	}
	if list[len(list)-1].Name != fmt.Sprintf("job %d", maxFinishedJobs+9) {
		t.Errorf("newest job missing: %+v", list[len(list)-1])
	}

	for i := 0; i < maxJobLogLines+5; i++ {
		r.log(other, fmt.Sprintf("line %d", i))
	}
	for _, j := range r.list() {
		if j.ID == other.info.ID && (len(j.Log) != maxJobLogLines || j.Log[len(j.Log)-1] != fmt.Sprintf("line %d", maxJobLogLines+4)) {
			t.Errorf("log of a long job: %d lines, last %q", len(j.Log), j.Log[len(j.Log)-1])
		}
	}
}
