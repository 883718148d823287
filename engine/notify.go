package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"tapefs/engine/config"
)

// Notification event kinds.
const (
	EventJob      = "job"       // a backup job ended
	EventMedia    = "media"     // a job waits for a tape
	EventTapeFull = "tape-full" // a tape of a media set is full
	EventCleaning = "cleaning"  // a drive asks for cleaning
)

// notifyTimeout bounds sendmail and the hook command.
const notifyTimeout = time.Minute

// logExcerptLines is how much of the task log a job's mail carries.
const logExcerptLines = 30

// Event is a notification: what tapefs tells the operator by mail and
// through the hook command (as TAPEFS_* variables and as this JSON on
// stdin).
type Event struct {
	Kind    string    `json:"event"`
	Host    string    `json:"host"`
	Time    time.Time `json:"time"`
	Job     string    `json:"job,omitempty"`
	Task    uint64    `json:"task,omitempty"`
	State   string    `json:"state"`
	Message string    `json:"message,omitempty"`
	// Tape and Drive name the tape and drive of a tape-full event.
	Tape  string `json:"tape,omitempty"`
	Drive string `json:"drive,omitempty"`
	// Log is the end of the task's log.
	Log []string `json:"log,omitempty"`
}

// subject is the mail subject: job (or event), state, host.
func (ev Event) subject() string {
	what := "tapefs"
	switch {
	case ev.Job != "":
		what += " backup job " + ev.Job
	case ev.Task != 0:
		what += " task " + strconv.FormatUint(ev.Task, 10)
	}
	return oneLine(fmt.Sprintf("%s on %s: %s", what, ev.Host, ev.State))
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// mail is the event as an RFC 5322 message.
func (ev Event) mail(from string, to []string) []byte {
	var b bytes.Buffer
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, oneLine(v)) }
	hdr("From", from)
	hdr("To", strings.Join(to, ", "))
	hdr("Date", ev.Time.Format(time.RFC1123Z))
	hdr("Subject", ev.subject())
	hdr("Message-ID", fmt.Sprintf("<tapefs.%d.%s@%s>", ev.Time.Unix(), hex.EncodeToString(id), ev.Host))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	line := func(format string, args ...any) { b.WriteString(fmt.Sprintf(format, args...) + "\r\n") }
	if ev.Job != "" {
		line("Backup job:  %s", ev.Job)
	}
	if ev.Task != 0 {
		line("Task:        %d (tapefs task log %d)", ev.Task, ev.Task)
	}
	line("State:       %s", ev.State)
	if ev.Message != "" {
		line("Message:     %s", ev.Message)
	}
	if ev.Tape != "" {
		line("Tape:        %s", ev.Tape)
	}
	if ev.Drive != "" {
		line("Drive:       %s", ev.Drive)
	}
	line("Host:        %s", ev.Host)
	line("Time:        %s", ev.Time.Format(time.RFC3339))
	if len(ev.Log) > 0 {
		line("")
		line("Task log (last %d lines):", len(ev.Log))
		line("")
		for _, l := range ev.Log {
			// A line of a lone "." ends the message for some sendmails.
			if l == "." {
				l = ".."
			}
			line("%s", l)
		}
	}
	return b.Bytes()
}

// env is the event as environment variables of the hook command.
func (ev Event) env() []string {
	return []string{
		"TAPEFS_EVENT=" + ev.Kind, "TAPEFS_HOST=" + ev.Host, "TAPEFS_TIME=" + ev.Time.Format(time.RFC3339),
		"TAPEFS_JOB=" + ev.Job, "TAPEFS_TASK=" + strconv.FormatUint(ev.Task, 10), "TAPEFS_STATE=" + ev.State,
		"TAPEFS_MESSAGE=" + oneLine(ev.Message), "TAPEFS_TAPE=" + ev.Tape, "TAPEFS_DRIVE=" + ev.Drive,
	}
}

// send mails the event to the addresses (if any) and runs the hook (if
// configured). It returns why either failed; it never panics or blocks
// longer than notifyTimeout per program.
func (e *Engine) send(ev Event, to []string) error {
	nc, err := e.cfg.LoadNotify()
	if err != nil {
		return err
	}
	if ev.Host == "" {
		ev.Host, _ = os.Hostname()
	}
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	var errs []string
	if len(to) > 0 {
		from := nc.MailFrom
		if from == "" {
			from = "root@" + ev.Host
		}
		if err := runProgram(nc.SendmailPath(), append([]string{"-oi", "--"}, to...), nil, ev.mail(from, to)); err != nil {
			errs = append(errs, "mail: "+err.Error())
		}
	}
	if nc.Command != "" {
		js, _ := json.Marshal(ev)
		if err := runProgram(nc.Command, nil, ev.env(), append(js, '\n')); err != nil {
			errs = append(errs, "hook: "+err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("notification %q not sent: %s", ev.subject(), strings.Join(errs, "; "))
	}
	return nil
}

func runProgram(path string, args, env []string, stdin []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		if msg != "" {
			return fmt.Errorf("%s: %w: %s", path, err, msg)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// jobOfTask returns the backup job a task runs, if any.
func (e *Engine) jobOfTask(info TaskInfo) (config.BackupJob, bool) {
	if info.Job == "" {
		return config.BackupJob{}, false
	}
	c, err := e.cfg.LoadJobs()
	if err != nil {
		return config.BackupJob{}, false
	}
	j, err := c.Job(info.Job)
	if err != nil {
		return config.BackupJob{}, false
	}
	return *j, true
}

// recipients are who gets mail about an event of a task: its job's
// addresses (none with notify-mode never), or notify.cfg's mail-to.
func (e *Engine) recipients(info TaskInfo) (to []string, quiet bool) {
	if j, ok := e.jobOfTask(info); ok {
		if j.NotifyMode == config.NotifyNever {
			return nil, true
		}
		if a := j.NotifyAddresses(); len(a) > 0 {
			return a, false
		}
	}
	nc, err := e.cfg.LoadNotify()
	if err != nil {
		return nil, false
	}
	return nc.MailToAddresses(), false
}

// notifyJob sends the end of a backup job run, as its notify-mode says.
// A failure is logged and kept in the job's state; it never fails the job.
func (e *Engine) notifyJob(job config.BackupJob, info TaskInfo) {
	switch job.NotifyMode {
	case config.NotifyNever:
		return
	case config.NotifyError:
		if info.State == TaskOK {
			return
		}
	}
	to, _ := e.recipients(info)
	ev := Event{Kind: EventJob, Job: job.ID, Task: info.ID, State: info.State, Message: info.Message}
	if info.State == TaskWarnings {
		ev.Message = fmt.Sprintf("%d warning(s)", info.Warnings)
	}
	ev.Log, _ = e.TaskLogTail(info.ID, logExcerptLines)
	err := e.send(ev, to)
	if err != nil {
		e.logf("backup job %s: %v", job.ID, err)
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if serr := e.updateJobState(job.ID, func(st *JobState) { st.NotifyError = msg }); serr != nil {
		e.logf("backup job %s: %v", job.ID, serr)
	}
}

// notifyEvent sends an event that happens while the task of ctx runs
// (media request, tape full). A failure is logged in the task's log.
func (e *Engine) notifyEvent(ctx context.Context, ev Event) {
	var info TaskInfo
	if t := taskOf(ctx); t != nil {
		if i, err := e.tasks.load(t.info.ID); err == nil {
			info = i
		}
	}
	to, quiet := e.recipients(info)
	if quiet {
		return
	}
	ev.Job, ev.Task = info.Job, info.ID
	if ev.Task != 0 {
		ev.Log, _ = e.TaskLogTail(ev.Task, logExcerptLines)
	}
	if err := e.send(ev, to); err != nil {
		e.ctxLogf(ctx, "warning: %v", err)
	}
}

// notifyLater sends an event in the background (the work must not wait for
// a mail); the engine's Close waits for it.
func (e *Engine) notifyLater(ctx context.Context, ev Event) {
	e.taskWG.Add(1)
	go func() {
		defer e.taskWG.Done()
		e.notifyEvent(context.WithoutCancel(ctx), ev)
	}()
}

// notifyMedia tells the operator a job waits for a tape.
func (e *Engine) notifyMedia(ctx context.Context, request string) {
	e.notifyEvent(ctx, Event{Kind: EventMedia, State: TaskWaitingMedia, Message: request})
}
