package fusefs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"

	"tapefs/engine"
	"tapefs/engine/config"
)

// rootEntries is the top of the tree.
func (r *Root) rootEntries(ctx context.Context) ([]entry, error) {
	return []entry{
		private(fileEntry("status", func(ctx context.Context) ([]byte, error) { return r.statusText() })),
		private(fileEntry("status.json", func(ctx context.Context) ([]byte, error) { return jsonBytes(r.status()) })),
		dirEntry("drives", r.drivesEntries),
		dirEntry("changers", r.changersEntries),
		dirEntry("media", r.mediaEntries),
		cachedDirEntry("pools", pathCacheTimeout, r.poolsEntries),
		private(dirEntry("jobs", r.jobsEntries)),
	}, nil
}

func jsonBytes(v any, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// kvText renders name/value pairs as aligned "name: value" lines.
func kvText(pairs [][2]string) []byte {
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 4, 1, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(w, "%s:\t%s\n", p[0], p[1])
	}
	w.Flush()
	return b.Bytes()
}

// tableText renders rows under a header, columns aligned.
func tableText(cols []string, rows [][]string) []byte {
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(cols, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
	return b.Bytes()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ---- status ----

// DaemonStatus is the content of status.json.
type DaemonStatus struct {
	PID        int               `json:"pid"`
	MountPoint string            `json:"mountpoint"`
	Started    time.Time         `json:"started"`
	Drives     []DriveState      `json:"drives"`
	Jobs       []engine.TaskInfo `json:"running-jobs"`
}

// DriveState is one drive in status.json: its state from the cached
// status, the tape in it (from the changer's cached status) and its job.
type DriveState struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Tape  string `json:"tape,omitempty"`
	Job   string `json:"job,omitempty"`
	Error string `json:"error,omitempty"`
}

func (r *Root) status() (*DaemonStatus, error) {
	tc, err := r.eng.Config().LoadTape()
	if err != nil {
		return nil, err
	}
	st := &DaemonStatus{PID: r.pid, MountPoint: r.opts.MountPoint, Started: r.started, Drives: []DriveState{}, Jobs: []engine.TaskInfo{}}
	for _, d := range tc.Drives {
		st.Drives = append(st.Drives, r.driveState(d))
	}
	st.Jobs = append(st.Jobs, r.eng.RunningTasks()...)
	return st, nil
}

func (r *Root) driveState(d config.Drive) DriveState {
	ds := DriveState{Name: d.Name, Tape: r.tapeIn(d), Job: r.eng.Jobs()[d.Name]}
	c, err := r.eng.CachedDriveStatus(d.Name)
	switch {
	case err != nil:
		ds.State, ds.Error = "unknown", err.Error()
	case c.Status != nil:
		ds.State = c.Status.Flags
	case c.Err != "":
		ds.State, ds.Error = "error", c.Err
	default:
		ds.State = "unknown (not read yet)"
	}
	return ds
}

// tapeIn is the barcode of the tape in a library drive, from the changer's
// cached status ("" for a standalone drive or an empty drive).
func (r *Root) tapeIn(d config.Drive) string {
	if d.Changer == "" {
		return ""
	}
	c, err := r.eng.CachedChangerStatus(d.Changer)
	if err != nil {
		return ""
	}
	for _, e := range c.Entries {
		if e.Kind == "drive" && e.ID == d.ChangerDriveNum {
			return e.LabelText
		}
	}
	return ""
}

func (r *Root) statusText() ([]byte, error) {
	st, err := r.status()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(kvText([][2]string{
		{"daemon", "pid " + strconv.Itoa(st.PID)},
		{"mountpoint", st.MountPoint},
		{"started", fmtTime(st.Started)},
	}))
	b.WriteString("\ndrives:\n")
	rows := [][]string{}
	for _, d := range st.Drives {
		state := d.State
		if d.Error != "" {
			state += ": " + d.Error
		}
		rows = append(rows, []string{d.Name, d.Tape, d.Job, state})
	}
	b.Write(tableText([]string{"drive", "tape", "job", "state"}, rows))
	b.WriteString("\nrunning jobs:\n")
	rows = rows[:0]
	for _, j := range st.Jobs {
		rows = append(rows, []string{strconv.FormatUint(j.ID, 10), strings.Join(j.Drives, ","), j.Name, j.State, fmtTime(j.Start)})
	}
	b.Write(tableText([]string{"id", "drive", "job", "state", "started"}, rows))
	return b.Bytes(), nil
}

// ---- drives ----

func (r *Root) drivesEntries(ctx context.Context) ([]entry, error) {
	tc, err := r.eng.Config().LoadTape()
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, d := range tc.Drives {
		out = append(out, dirEntry(d.Name, func(ctx context.Context) ([]entry, error) { return r.driveEntries(d.Name) }))
	}
	return out, nil
}

func (r *Root) driveEntries(name string) ([]entry, error) {
	d, err := r.eng.DriveConfig(name)
	if err != nil {
		return nil, err
	}
	out := []entry{
		fileEntry("status", func(ctx context.Context) ([]byte, error) { return r.driveStatusText(d) }),
		fileEntry("status.json", func(ctx context.Context) ([]byte, error) {
			return jsonBytes(r.eng.CachedDriveStatus(d.Name))
		}),
	}
	for _, c := range driveControls(d.Name) {
		out = append(out, controlEntry(c))
	}
	return out, nil
}

// driveStatusText shows the fields of `tapefs status` from the cached
// status, plus the tape in the drive and when the status was read.
func (r *Root) driveStatusText(d config.Drive) ([]byte, error) {
	c, err := r.eng.CachedDriveStatus(d.Name)
	if err != nil {
		return nil, err
	}
	kv := [][2]string{{"drive", d.Name}, {"path", d.Path}}
	if d.Changer != "" {
		kv = append(kv, [2]string{"changer", fmt.Sprintf("%s (drive number %d)", d.Changer, d.ChangerDriveNum)})
	}
	if c.Status == nil {
		if c.Err != "" {
			kv = append(kv, [2]string{"error", c.Err})
		} else {
			kv = append(kv, [2]string{"status", "unknown (not read yet)"})
		}
		kv = append(kv, [2]string{"read", fmtTime(c.Read)})
		if job := r.eng.Jobs()[d.Name]; job != "" {
			kv = append(kv, [2]string{"job", job})
		}
		return kvText(kv), nil
	}
	if tape := r.tapeIn(d); tape != "" {
		kv = append(kv, [2]string{"tape", tape})
	}
	for _, f := range c.Status.Fields("echo > clean") {
		kv = append(kv, [2]string{f.Name, f.Text})
	}
	kv = append(kv, [2]string{"read", fmtTime(c.Read)})
	return kvText(kv), nil
}

// ---- changers ----

func (r *Root) changersEntries(ctx context.Context) ([]entry, error) {
	tc, err := r.eng.Config().LoadTape()
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, c := range tc.Changers {
		out = append(out, dirEntry(c.Name, func(ctx context.Context) ([]entry, error) { return r.changerEntries(c.Name) }))
	}
	return out, nil
}

func (r *Root) changerEntries(name string) ([]entry, error) {
	if _, err := r.eng.ChangerConfig(name); err != nil {
		return nil, err
	}
	out := []entry{
		fileEntry("status", func(ctx context.Context) ([]byte, error) { return r.changerStatusText(name) }),
		fileEntry("status.json", func(ctx context.Context) ([]byte, error) {
			return jsonBytes(r.eng.CachedChangerStatus(name))
		}),
		r.elementDir(name, "slots", "slot"),
		r.elementDir(name, "drives", "drive"),
		r.elementDir(name, "import-export", "import-export"),
	}
	for _, c := range r.changerControls(name) {
		out = append(out, controlEntry(c))
	}
	return out, nil
}

func (r *Root) changerStatusText(name string) ([]byte, error) {
	c, err := r.eng.CachedChangerStatus(name)
	if err != nil {
		return nil, err
	}
	if c.Err != "" {
		return kvText([][2]string{{"changer", name}, {"error", c.Err}, {"read", fmtTime(c.Read)}}), nil
	}
	if c.Read.IsZero() {
		return kvText([][2]string{{"changer", name}, {"status", "unknown (not read yet)"}}), nil
	}
	rows := [][]string{}
	for _, e := range c.Entries {
		loaded := ""
		if e.LoadedSlot != 0 {
			loaded = strconv.Itoa(e.LoadedSlot)
		}
		rows = append(rows, []string{e.Kind, strconv.Itoa(e.ID), e.LabelText, loaded})
	}
	b := tableText([]string{"entry-kind", "entry-id", "changer-id", "loaded-slot"}, rows)
	return append(b, fmt.Sprintf("\nread: %s\n", fmtTime(c.Read))...), nil
}

// elementDir lists one kind of changer element by number: a symlink to
// ../../../media/<label> for a tape in the inventory, else a regular file
// (empty for an empty element, the barcode for a tape the inventory does
// not know, such as a cleaning cartridge).
func (r *Root) elementDir(changer, name, kind string) entry {
	return dirEntry(name, func(ctx context.Context) ([]entry, error) {
		{
			c, err := r.eng.CachedChangerStatus(changer)
			if err != nil {
				return nil, err
			}
			known, err := r.knownLabels()
			if err != nil {
				return nil, err
			}
			var out []entry
			for _, e := range c.Entries {
				if e.Kind != kind {
					continue
				}
				n := strconv.Itoa(e.ID)
				switch {
				case e.LabelText != "" && known[e.LabelText]:
					out = append(out, linkEntry(n, "../../../media/"+e.LabelText))
				case e.LabelText != "":
					out = append(out, r.barcodeEntry(n, e.LabelText))
				default:
					out = append(out, r.barcodeEntry(n, ""))
				}
			}
			return out, nil
		}
	})
}

func (r *Root) barcodeEntry(name, barcode string) entry {
	e := fileEntry(name, func(ctx context.Context) ([]byte, error) {
		if barcode == "" {
			return nil, nil
		}
		return []byte(barcode + "\n"), nil
	})
	e.extra = "file:" + barcode
	return e
}

func (r *Root) knownLabels() (map[string]bool, error) {
	list, err := r.eng.MediaList("")
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(list))
	for _, m := range list {
		out[m.LabelText] = true
	}
	return out, nil
}

// ---- media ----

func (r *Root) mediaEntries(ctx context.Context) ([]entry, error) {
	list, err := r.eng.MediaList("")
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, m := range list {
		label := m.LabelText
		out = append(out, dirEntry(label, func(ctx context.Context) ([]entry, error) { return r.mediumEntries(label) }))
	}
	return out, nil
}

// MediaInfo is the content of media/<label>/info.json: the inventory entry.
type MediaInfo struct {
	LabelText    string    `json:"label-text"`
	UUID         string    `json:"uuid"`
	Ctime        time.Time `json:"ctime"`
	Pool         string    `json:"pool,omitempty"`
	MediaSetUUID string    `json:"media-set-uuid,omitempty"`
	MediaSetSeq  *uint64   `json:"seq-nr,omitempty"`
	MediaSetTime time.Time `json:"media-set-ctime,omitzero"`
	Status       string    `json:"status"`
	Location     string    `json:"location"`
	Slot         int       `json:"slot,omitempty"`
	BytesUsed    uint64    `json:"bytes-used"`
	Updated      time.Time `json:"updated"`
}

// findMedium returns the inventory entry of the tape labelled label.
func (r *Root) findMedium(label string) (engine.Media, error) {
	list, err := r.eng.MediaList("")
	if err != nil {
		return engine.Media{}, err
	}
	i := slices.IndexFunc(list, func(m engine.Media) bool { return m.LabelText == label })
	if i < 0 {
		return engine.Media{}, kindError{kind: engine.ErrNotFound, msg: fmt.Sprintf("tape %s is not in the inventory", label)}
	}
	return list[i], nil
}

func (r *Root) medium(label string) (*MediaInfo, error) {
	m, err := r.findMedium(label)
	if err != nil {
		return nil, err
	}
	mi := &MediaInfo{
		LabelText: m.LabelText, UUID: m.UUID.String(), Ctime: m.Ctime, Pool: m.EffectivePool(),
		Status: string(m.Status), Location: m.Location.String(), Slot: m.Location.Slot,
		BytesUsed: m.BytesUsed, Updated: m.Updated,
	}
	if s := m.Set; s != nil {
		seq := s.Seq
		mi.MediaSetUUID, mi.MediaSetSeq, mi.MediaSetTime = s.UUID.String(), &seq, s.Ctime
	}
	return mi, nil
}

func (r *Root) mediumEntries(label string) ([]entry, error) {
	if _, err := r.medium(label); err != nil {
		return nil, err
	}
	return []entry{
		fileEntry("content", func(ctx context.Context) ([]byte, error) {
			rows, err := r.eng.MediaContent(engine.ContentFilter{LabelText: label})
			if err != nil {
				return nil, err
			}
			var b strings.Builder
			for _, c := range rows {
				fmt.Fprintf(&b, "%s\tseq-nr %d\tmedia-set %s (%s)\n", c.Snapshot, c.Seq, c.MediaSet, c.MediaSetName)
			}
			return []byte(b.String()), nil
		}),
		fileEntry("info", func(ctx context.Context) ([]byte, error) {
			m, err := r.medium(label)
			if err != nil {
				return nil, err
			}
			kv := [][2]string{
				{"label-text", m.LabelText}, {"uuid", m.UUID}, {"ctime", fmtTime(m.Ctime)},
				{"pool", m.Pool}, {"status", m.Status}, {"location", m.Location},
			}
			if m.Slot != 0 {
				kv = append(kv, [2]string{"slot", strconv.Itoa(m.Slot)})
			}
			if m.MediaSetSeq != nil {
				kv = append(kv, [2]string{"media-set-uuid", m.MediaSetUUID},
					[2]string{"media-set-ctime", fmtTime(m.MediaSetTime)},
					[2]string{"seq-nr", strconv.FormatUint(*m.MediaSetSeq, 10)})
			}
			kv = append(kv, [2]string{"bytes-used", humanize.IBytes(m.BytesUsed)}, [2]string{"updated", fmtTime(m.Updated)})
			return kvText(kv), nil
		}),
		fileEntry("info.json", func(ctx context.Context) ([]byte, error) { return jsonBytes(r.medium(label)) }),
		controlEntry(r.mediumExportControl(label)),
	}, nil
}

// mediumExportControl is media/<label>/export: move this tape to a free
// import/export slot of its library, with the changer's first drive.
func (r *Root) mediumExportControl(label string) control {
	return control{
		name: "export",
		usage: "usage: echo > export\n" +
			"  move this tape to a free import/export slot of its library (it becomes offline)\n" +
			"  runs: tapefs export-media " + label + " --drive DRIVE (the first drive of the tape's changer)",
		argv: func(w []string) ([]string, error) {
			if len(w) > 0 {
				return nil, errInvalid("export: unexpected argument %q: the file takes none", w[0])
			}
			m, err := r.findMedium(label)
			if err != nil {
				return nil, err
			}
			loc := m.Location
			if loc.Kind != engine.LocationOnline {
				return nil, kindError{kind: engine.ErrNotFound, msg: fmt.Sprintf("tape %s is not in a library (%s)", label, loc)}
			}
			d, err := r.changerDrive(loc.Changer)
			if err != nil {
				return nil, err
			}
			return []string{"export-media", label, "--drive", d}, nil
		},
	}
}

// ---- pools ----

func (r *Root) poolsEntries(ctx context.Context) ([]entry, error) {
	pools, err := r.eng.PoolList()
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, p := range pools {
		name := p.Name
		out = append(out, cachedDirEntry(name, pathCacheTimeout, func(ctx context.Context) ([]entry, error) { return r.poolEntries(name) }))
	}
	return out, nil
}

// poolEntries lists pools/<pool>/. Backup and restore add their entries
// here: media-sets/, snapshots/, incoming/ and the commit, export and
// eject control files.
func (r *Root) poolEntries(name string) ([]entry, error) {
	if _, err := r.eng.PoolConfig(name); err != nil {
		return nil, err
	}
	st, err := r.eng.Staging(name)
	if err != nil {
		return nil, err
	}
	return []entry{
		fileEntry("status", func(ctx context.Context) ([]byte, error) { return r.poolStatusText(name) }),
		fileEntry("status.json", func(ctx context.Context) ([]byte, error) { return jsonBytes(r.poolStatus(name)) }),
		r.mediaSetsDir(name),
		cachedDirEntry("snapshots", pathCacheTimeout, func(ctx context.Context) ([]entry, error) {
			return r.snapshotGroups(engine.SnapshotFilter{Pool: name}, viewPool)
		}),
		r.incomingEntry(name, st),
		controlEntry(commitControl(name)),
		controlEntry(poolExportControl(name)),
		controlEntry(r.poolEjectControl(name)),
	}, nil
}

// poolExportControl is pools/<pool>/export: export the pool's current
// media set to the library's import/export slots.
func poolExportControl(pool string) control {
	return control{
		name: "export",
		usage: "usage: echo > export\n" +
			"  move every tape of this pool's current media set to import/export slots and close the set\n" +
			"  (the next backup starts a new media set)\n" +
			"  runs: tapefs export-media-set " + pool,
		argv: func(w []string) ([]string, error) {
			if len(w) > 0 {
				return nil, errInvalid("export: unexpected argument %q: the file takes none", w[0])
			}
			return []string{"export-media-set", pool}, nil
		},
	}
}

// poolEjectControl is pools/<pool>/eject: eject the tape of the pool's
// drive (back to its slot in a library).
func (r *Root) poolEjectControl(pool string) control {
	return control{
		name:  "eject",
		usage: "usage: echo > eject\n  eject the tape in this pool's drive (back to its slot in a library)\n  runs: tapefs eject --drive DRIVE-OF-" + pool,
		argv: func(w []string) ([]string, error) {
			if len(w) > 0 {
				return nil, errInvalid("eject: unexpected argument %q: the file takes none", w[0])
			}
			p, err := r.eng.PoolConfig(pool)
			if err != nil {
				return nil, err
			}
			if p.Drive == "" {
				return nil, errInvalid("pool %s has no drive", pool)
			}
			return []string{"eject", "--drive", p.Drive}, nil
		},
	}
}

// PoolStatus is the content of pools/<pool>/status.json.
type PoolStatus struct {
	Name       string      `json:"name"`
	Drive      string      `json:"drive,omitempty"`
	Allocation string      `json:"allocation"`
	Retention  string      `json:"retention"`
	Template   string      `json:"template,omitempty"`
	Encrypt    string      `json:"encrypt,omitempty"`
	Comment    string      `json:"comment,omitempty"`
	Media      []MediaInfo `json:"media"`
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (r *Root) poolStatus(name string) (*PoolStatus, error) {
	p, err := r.eng.PoolConfig(name)
	if err != nil {
		return nil, err
	}
	ps := &PoolStatus{
		Name: p.Name, Drive: p.Drive, Allocation: orDefault(p.Allocation, config.AllocContinue),
		Retention: orDefault(p.Retention, config.RetainKeep), Template: p.Template, Encrypt: p.Encrypt,
		Comment: p.Comment, Media: []MediaInfo{},
	}
	list, err := r.eng.MediaList(name)
	if err != nil {
		return nil, err
	}
	for _, m := range list {
		mi, err := r.medium(m.LabelText)
		if err != nil {
			return nil, err
		}
		ps.Media = append(ps.Media, *mi)
	}
	return ps, nil
}

func (r *Root) poolStatusText(name string) ([]byte, error) {
	ps, err := r.poolStatus(name)
	if err != nil {
		return nil, err
	}
	kv := [][2]string{{"name", ps.Name}, {"drive", ps.Drive}, {"allocation", ps.Allocation}, {"retention", ps.Retention}}
	for _, f := range [][2]string{{"template", ps.Template}, {"encrypt", ps.Encrypt}, {"comment", ps.Comment}} {
		if f[1] != "" {
			kv = append(kv, f)
		}
	}
	var b bytes.Buffer
	b.Write(kvText(kv))
	b.WriteString("\nmedia:\n")
	rows := [][]string{}
	for _, m := range ps.Media {
		seq := ""
		if m.MediaSetSeq != nil {
			seq = strconv.FormatUint(*m.MediaSetSeq, 10)
		}
		rows = append(rows, []string{m.LabelText, m.Status, m.Location, m.MediaSetUUID, seq})
	}
	b.Write(tableText([]string{"label-text", "status", "location", "media-set-uuid", "seq-nr"}, rows))
	return b.Bytes(), nil
}

// ---- jobs ----

// jobsEntries is the task history, oldest first (see engine.TaskList).
func (r *Root) jobsEntries(ctx context.Context) ([]entry, error) {
	tasks, err := r.eng.TaskList(0)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(tasks))
	for _, t := range tasks {
		id := t.ID
		out = append(out, dirEntry(strconv.FormatUint(id, 10), func(ctx context.Context) ([]entry, error) { return r.jobEntries(id) }))
	}
	return out, nil
}

func (r *Root) jobEntries(id uint64) ([]entry, error) {
	if _, err := r.eng.Task(id); err != nil {
		return nil, err
	}
	return []entry{
		fileEntry("status", func(ctx context.Context) ([]byte, error) {
			t, err := r.eng.Task(id)
			if err != nil {
				return nil, err
			}
			return kvText(t.Fields(r.now())), nil
		}),
		fileEntry("status.json", func(ctx context.Context) ([]byte, error) { return jsonBytes(r.eng.Task(id)) }),
		fileEntry("progress", func(ctx context.Context) ([]byte, error) {
			t, err := r.eng.Task(id)
			if err != nil {
				return nil, err
			}
			state := t.State
			if t.Waiting != "" {
				state = "waiting: " + t.Waiting
			}
			kv := [][2]string{{"state", state}, {"duration", t.Duration(r.now()).Round(time.Second).String()}}
			if p := t.Progress; p != nil {
				kv = append(kv, [][2]string{
					{"bytes", humanize.IBytes(uint64(p.Bytes))}, {"total-bytes", orQuestion(p.TotalBytes, humanize.IBytes(uint64(p.TotalBytes)))},
					{"files", strconv.FormatInt(p.Files, 10)}, {"total-files", orQuestion(p.TotalFiles, strconv.FormatInt(p.TotalFiles, 10))},
					{"rate", humanize.IBytes(uint64(p.Rate)) + "/s"}, {"eta", orQuestion(int64(p.ETA), p.ETA.Round(time.Second).String())},
					{"tape", p.Tape}, {"drive", p.Drive}, {"updated", fmtTime(p.Updated)},
				}...)
			}
			if lines, err := r.eng.TaskLogTail(id, 1); err == nil && len(lines) > 0 {
				kv = append(kv, [2]string{"last", lines[0]})
			}
			return kvText(kv), nil
		}),
		fileEntry("log", func(ctx context.Context) ([]byte, error) {
			var b bytes.Buffer
			err := r.eng.TaskLog(ctx, id, &b, false)
			return b.Bytes(), err
		}),
	}, nil
}

// orQuestion is s, or "?" when n is 0 (not known yet).
func orQuestion(n int64, s string) string {
	if n == 0 {
		return "?"
	}
	return s
}
