package txn

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/message"
)

// PropertyOrigin is set by mqstore on a discarded copy (in DiscardTopic) and
// on a resumed half message: the decimal commitlog offset of the half message
// it was copied from. Resume follows it. Frozen.
const PropertyOrigin = "MQSTORE_TRAN_ORIGIN"

// AnyQueueOffset passed as the queue offset to Commit or Rollback skips the
// tranStateTableOffset check (operators who know only the commitlog offset).
const AnyQueueOffset int64 = -1

// Service is the transactional-message engine of one store: it prepares
// half messages, commits and rolls them back, tracks the open ones and
// checks them back with their producers. It is safe for concurrent use.
type Service struct {
	store    Store
	opts     Options
	ops      *opWriter
	lastSeen atomic.Int64 // max commitlog offset returned by txn's own appends

	// roundMu serializes check rounds and guards checks and captured.
	roundMu sync.Mutex
	checks  *checkFile // nil without Options.Dir
	// captured is the progress captured at the end of the previous round
	// (or by New); the next round writes it to the progress file.
	captured progress

	mu sync.Mutex // guards the fields below
	// open holds the open transactions by half-queue offset.
	open   map[int64]*entry
	states window
	// halfNext is one past the largest half-queue offset txn knows.
	halfNext int64
	// preparing holds the bounds of the prepares whose half message is
	// being appended (see capture), in no order: a few at a time, so a
	// slice with swap-removal is cheaper than a map.
	preparing []prepareBound
	nextToken uint64
	// resumed holds the queue offsets below the window that Resume resumed,
	// so a second Resume of one is refused whatever the op queue says yet.
	resumed map[int64]struct{}
	closed  bool
	checker Checker
	calls   gate // in-flight API calls; closed by Close after closed is set

	cancel context.CancelFunc // cancels ctx on Close
	ctx    context.Context
	quit   chan struct{} // closed by Close; the check loop returns
	done   chan struct{} // closed by the check loop
	errMu  sync.Mutex    // guards loopErr
	// loopErr is the first error of a background check round.
	loopErr error
}

// entry is one open transaction.
type entry struct {
	queueOffset    int64
	halfOffset     int64
	storeTimestamp int64 // ms
	group          string
	topic          string
	queueID        int32
	committing     bool        // a commit is appending the restored message
	lastResult     CheckResult // (next to queueID: the entry fits a smaller size class)
	transactionID  string
	immunity       time.Duration // replaces TransactionTimeout when > 0
	resumedFrom    int64         // -1 unless resumed
	opBound        int64         // op-queue offset before which no op marks this
	op             opItem        // the op marker of its commit (opWriter.begin)
	checks         int
	lastCheck      int64 // ms, 0 when never
}

// prepareBound is what an in-flight prepare (token) holds the progress at.
type prepareBound struct {
	token    uint64
	half, op int64
}

// PrepareResult says where a half message went.
type PrepareResult struct {
	HalfOffset     int64  // commitlog offset (END_TRANSACTION commitLogOffset)
	QueueOffset    int64  // half-queue offset (tranStateTableOffset)
	MsgID          string // offset message id of the half record
	TransactionID  string // UNIQ_KEY, or MsgID when the message has none
	StoreTimestamp int64  // ms
}

// OpenTransaction describes an open transaction (Open, HalfMessage).
type OpenTransaction struct {
	HalfOffset     int64  // commitlog offset of the half message
	QueueOffset    int64  // its half-queue offset
	ProducerGroup  string // PGROUP
	Topic          string // REAL_TOPIC
	QueueID        int32  // REAL_QID
	TransactionID  string // UNIQ_KEY ("" when absent)
	StoreTimestamp int64  // ms, when the half message was stored
	Age            time.Duration
	CheckTimes     int         // checks delivered so far
	LastCheck      time.Time   // zero when never checked
	LastResult     CheckResult // of the last check
	ResumedFrom    int64       // commitlog offset of the discarded half message this resumes; -1
}

// New opens the transaction service over store. It rebuilds the
// open-transaction table from the half and op queues (from the persisted
// progress on), finds commits whose op marker was lost in a crash, and
// loads the check counts. The store must have dispatched every record it
// recovered. New starts the op-marker writer; Start starts the checks.
func New(store Store, opts Options) (*Service, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	s := &Service{
		store:   store,
		opts:    opts,
		open:    make(map[int64]*entry),
		resumed: make(map[int64]struct{}),
		calls:   gate{drained: make(chan struct{})},
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if opts.Dir != "" {
		if err := vfs.MkdirAllSync(opts.FS, opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("txn: create dir: %w", err)
		}
	}
	if err := s.recover(); err != nil {
		if s.checks != nil {
			s.checks.close()
		}
		return nil, err
	}
	s.ops.start()
	return s, nil
}

// enter registers an API call (s.calls.exit ends it); it fails after
// Close.
func (s *Service) enter() error {
	if !s.calls.enter() {
		return ErrClosed
	}
	return nil
}

// gate admits calls until it is closed, then lets close wait for the calls
// in flight: a WaitGroup and a closed flag in one atomic word, so a call
// takes no lock to enter (a mutex here was contended under concurrent
// transactions: every Prepare and Commit enters).
type gate struct {
	state   atomic.Int64  // calls in flight, plus gateClosed once closed
	drained chan struct{} // closed when the last call leaves a closed gate
	once    sync.Once
}

const gateClosed int64 = 1 << 62

// enter admits a call, or returns false when the gate is closed.
func (g *gate) enter() bool {
	if g.state.Add(1)&gateClosed != 0 {
		g.exit()
		return false
	}
	return true
}

// exit ends a call that enter admitted (or refused).
func (g *gate) exit() {
	if g.state.Add(-1) == gateClosed {
		g.once.Do(func() { close(g.drained) })
	}
}

// close refuses new calls and waits for the admitted ones to exit.
func (g *gate) close() {
	if g.state.Or(gateClosed)&^gateClosed == 0 {
		return // none in flight
	}
	<-g.drained
}

func (s *Service) noteSeen(physicalOffset int64) { storeMax(&s.lastSeen, physicalOffset) }

// Prepare stores msg as a half message of producerGroup: topic HalfTopic,
// queue 0, transaction type NOT (so it gets a half-queue unit), with
// REAL_TOPIC and REAL_QID keeping its destination, TRAN_MSG=true, PGROUP,
// and __transactionId__ = UNIQ_KEY when it has one (spec §6.3). msg is not
// modified.
func (s *Service) Prepare(msg *message.Message, producerGroup string) (PrepareResult, error) {
	if err := s.enter(); err != nil {
		return PrepareResult{}, err
	}
	defer s.calls.exit()
	switch {
	case msg == nil || msg.Topic == "" || !message.ValidProperty(message.PropertyRealTopic, msg.Topic):
		return PrepareResult{}, fmt.Errorf("%w: bad topic", ErrInvalidMessage)
	case msg.Topic == HalfTopic || msg.Topic == OpTopic || msg.Topic == DiscardTopic:
		return PrepareResult{}, fmt.Errorf("%w: topic %s is a system topic", ErrInvalidMessage, msg.Topic)
	case !message.ValidProperty(message.PropertyProducerGroup, producerGroup):
		return PrepareResult{}, fmt.Errorf("%w: bad producer group %q", ErrInvalidMessage, producerGroup)
	case msg.QueueID < 0:
		return PrepareResult{}, fmt.Errorf("%w: queue id %d", ErrInvalidMessage, msg.QueueID)
	}
	// One pass over the properties (the last occurrence wins, as in Lookup):
	// the delay ones refused, UNIQ_KEY and the check immunity kept.
	var uniq, immunity []byte
	delayLevel, timer := false, false
	msg.Properties.Range(func(name, value []byte) bool {
		switch string(name) {
		case message.PropertyDelayLevel:
			delayLevel = string(value) != "0"
		case message.PropertyTimerDeliverMS, message.PropertyTimerDelaySec,
			message.PropertyTimerDelayMS, message.PropertyStartDeliverTime:
			timer = true
		case message.PropertyUniqKey:
			uniq = value
		case message.PropertyCheckImmunityTime:
			immunity = value
		}
		return true
	})
	if delayLevel || timer {
		return PrepareResult{}, ErrDelayedTransaction
	}
	// The half message and its properties live in pooled scratch: Store.Append
	// keeps neither.
	sc := prepareScratches.Get().(*prepareScratch)
	half := &sc.msg
	*half = *msg
	half.Topic = HalfTopic
	half.QueueID = 0
	half.SysFlag = message.SetTransactionType(msg.SysFlag, message.TransactionNotType)
	half.PreparedTransactionOffset = 0
	e := &entry{group: producerGroup, topic: msg.Topic, queueID: msg.QueueID, resumedFrom: -1}
	var qid [11]byte
	kv := [...]string{
		message.PropertyRealTopic, msg.Topic,
		message.PropertyRealQueueID, string(strconv.AppendInt(qid[:0], int64(msg.QueueID), 10)),
		message.PropertyTransactionPrepared, "true",
		message.PropertyProducerGroup, producerGroup,
		message.PropertyTransactionID, ""}
	n := len(kv) - 2
	if len(uniq) > 0 {
		e.transactionID = string(uniq)
		kv[n+1] = e.transactionID
		n += 2
	}
	sc.props = appendProperties(sc.props[:0], msg.Properties, kv[:n]...)
	half.Properties = sc.props
	e.immunity = immunityValue(immunity)
	app, err := s.appendHalf(half, e)
	*half = message.Message{}
	if cap(sc.props) <= 64<<10 {
		prepareScratches.Put(sc)
	}
	if err != nil {
		return PrepareResult{}, err
	}
	id := e.transactionID
	if id == "" {
		id = app.MsgID
	}
	return PrepareResult{HalfOffset: app.PhysicalOffset, QueueOffset: app.QueueOffset, MsgID: app.MsgID,
		TransactionID: id, StoreTimestamp: app.StoreTimestamp}, nil
}

// appendHalf appends a half message and registers e (filled with its
// offsets) as open.
func (s *Service) appendHalf(half *message.Message, e *entry) (Appended, error) {
	s.mu.Lock()
	token := s.nextToken
	s.nextToken++
	e.opBound = s.ops.next.Load()
	s.preparing = append(s.preparing, prepareBound{token: token, half: s.halfNext, op: e.opBound})
	s.mu.Unlock()

	app, err := s.store.Append(half)

	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.preparing {
		if s.preparing[i].token == token {
			last := len(s.preparing) - 1
			s.preparing[i] = s.preparing[last]
			s.preparing = s.preparing[:last]
			break
		}
	}
	if err != nil {
		return Appended{}, fmt.Errorf("txn: append half message: %w", err)
	}
	s.noteSeen(app.PhysicalOffset)
	e.queueOffset = app.QueueOffset
	e.halfOffset = app.PhysicalOffset
	e.storeTimestamp = app.StoreTimestamp
	s.open[e.queueOffset] = e
	s.states.set(e.queueOffset, stateOpen)
	s.halfNext = max(s.halfNext, e.queueOffset+1)
	if len(s.states.states) > 1<<20 && len(s.states.states)&(1<<16-1) == 0 {
		s.trimLocked()
	}
	return app, nil
}

// prepareScratch is Prepare's pooled half message.
type prepareScratch struct {
	msg   message.Message
	props []byte
}

var prepareScratches = sync.Pool{New: func() any { return new(prepareScratch) }}

// appendProperties appends to out the encoding of p with the name/value
// pairs kv set (every entry of p named in kv dropped, kv appended in order).
func appendProperties(out []byte, p message.Properties, kv ...string) message.Properties {
	p.Range(func(name, value []byte) bool {
		for i := 0; i < len(kv); i += 2 {
			if string(name) == kv[i] {
				return true
			}
		}
		out = append(out, name...)
		out = append(out, message.NameValueSeparator)
		out = append(out, value...)
		out = append(out, message.PropertySeparator)
		return true
	})
	for i := 0; i < len(kv); i += 2 {
		out = append(out, kv[i]...)
		out = append(out, message.NameValueSeparator)
		out = append(out, kv[i+1]...)
		out = append(out, message.PropertySeparator)
	}
	return out
}

// immunityOf returns CHECK_IMMUNITY_TIME_IN_SECONDS as a duration (0 when
// absent or not a positive number; then TransactionTimeout applies, as in
// RocketMQ for an unparsable value).
func immunityOf(p message.Properties) time.Duration {
	v, _ := p.Lookup(message.PropertyCheckImmunityTime)
	return immunityValue(v)
}

// immunityValue is immunityOf for the property's value (nil when absent).
func immunityValue(v []byte) time.Duration {
	if v == nil {
		return 0
	}
	n, ok := parseDecimal(v)
	if !ok || n <= 0 || n > int64(math.MaxInt64/time.Second) {
		return 0
	}
	return time.Duration(n) * time.Second
}

// Commit ends the transaction of the half message at commitlog offset
// halfOffset with a commit, after END_TRANSACTION's checks (spec §6.4): a
// half message is there (ErrNotFound, ErrNotHalfMessage), its PGROUP is
// producerGroup (ErrGroupMismatch), its half-queue offset is queueOffset
// (ErrQueueOffsetMismatch; AnyQueueOffset skips this). It appends the
// restored message to REAL_TOPIC/REAL_QID: transaction type COMMIT,
// PreparedTransactionOffset = halfOffset, properties as stored (REAL_TOPIC,
// REAL_QID, TRAN_MSG and PGROUP kept, as RocketMQ does), plus
// TRANSACTION_CHECK_TIMES when it was checked; then queues the op marker.
//
// A transaction already ended is answered with ErrAlreadyCommitted,
// ErrAlreadyRolledBack, ErrDiscarded or ErrResumed (all wrap
// ErrAlreadyEnded) and nothing is written.
func (s *Service) Commit(halfOffset int64, producerGroup string, queueOffset int64) (Appended, error) {
	if err := s.enter(); err != nil {
		return Appended{}, err
	}
	defer s.calls.exit()
	if v, ok := s.store.(Viewer); ok {
		// Zero copy: the restored message's body and properties are the half
		// record's bytes, copied once, into the restored record.
		return s.viewHalf(v, halfOffset, producerGroup, queueOffset, true)
	}
	msg, rec, err := s.readHalf(halfOffset, producerGroup, queueOffset)
	if err != nil {
		return Appended{}, err
	}
	return s.commit(msg, rec)
}

// Rollback ends the transaction of the half message at halfOffset with a
// rollback: the same checks as Commit, then only the op marker. The answers
// for an ended transaction are Commit's.
func (s *Service) Rollback(halfOffset int64, producerGroup string, queueOffset int64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.calls.exit()
	if v, ok := s.store.(Viewer); ok {
		_, err := s.viewHalf(v, halfOffset, producerGroup, queueOffset, false)
		return err
	}
	_, rec, err := s.readHalf(halfOffset, producerGroup, queueOffset)
	if err != nil {
		return err
	}
	return s.rollback(rec.QueueOffset)
}

// readHalf reads and verifies the half message at halfOffset.
func (s *Service) readHalf(halfOffset int64, producerGroup string, queueOffset int64) (*message.Message, message.Record, error) {
	msg, rec, err := s.store.Read(halfOffset)
	if err != nil {
		return nil, rec, fmt.Errorf("%w: offset %d: %w", ErrNotFound, halfOffset, err)
	}
	if _, err := verifyHalf(halfOffset, producerGroup, queueOffset, msg.Topic, msg.Properties, &rec); err != nil {
		return nil, rec, err
	}
	return msg, rec, nil
}

// halfView is one Commit or Rollback through Viewer.View (pooled: the
// read allocates nothing).
type halfView struct {
	s           *Service
	halfOffset  int64
	queueOffset int64
	group       string
	commit      bool // else rollback
	visited     bool
	rec         message.Record
	msg         message.Message
	app         Appended
}

var halfViews = sync.Pool{New: func() any { return new(halfView) }}

// Visit verifies the lent half message like readHalf, then commits or
// rolls it back.
func (h *halfView) Visit(r *message.Record) error {
	h.visited = true
	f, err := verifyHalf(h.halfOffset, h.group, h.queueOffset, bytesString(r.Topic), r.Properties, r)
	if err != nil {
		return err
	}
	if !h.commit {
		return h.s.rollback(r.QueueOffset)
	}
	// r.Message() without the copies; Topic is replaced by restore.
	h.msg = message.Message{
		Topic:                     HalfTopic,
		QueueID:                   r.QueueID,
		Flag:                      r.Flag,
		SysFlag:                   r.SysFlag,
		BornTimestamp:             r.BornTimestamp,
		BornHost:                  r.BornHost,
		StoreHost:                 r.StoreHost,
		ReconsumeTimes:            r.ReconsumeTimes,
		PreparedTransactionOffset: r.PreparedTransactionOffset,
		Body:                      r.Body,
	}
	if len(r.Properties) > 0 {
		h.msg.Properties = r.Properties
	}
	h.app, err = h.s.commitFields(&h.msg, *r, f)
	return err
}

// viewHalf commits (commit) or rolls back the half message at halfOffset,
// lent by the store (see Viewer), after readHalf's checks.
func (s *Service) viewHalf(v Viewer, halfOffset int64, producerGroup string, queueOffset int64, commit bool) (Appended, error) {
	h := halfViews.Get().(*halfView)
	h.s, h.halfOffset, h.queueOffset, h.group, h.commit = s, halfOffset, queueOffset, producerGroup, commit
	err := v.View(halfOffset, &h.rec, h)
	if err != nil && !h.visited {
		err = fmt.Errorf("%w: offset %d: %w", ErrNotFound, halfOffset, err)
	}
	app := h.app
	*h = halfView{} // drop the references to the store's memory
	halfViews.Put(h)
	return app, err
}

// halfFields are the properties of a half message that END_TRANSACTION
// reads (views of the record's bytes), found by verifyHalf in one pass.
type halfFields struct {
	realTopic, realQID []byte // REAL_TOPIC (nil when absent), REAL_QID
}

// verifyHalf checks END_TRANSACTION's conditions on the record at
// halfOffset (topic and props are the record's) and returns the
// properties restore needs, from the same pass.
func verifyHalf(halfOffset int64, producerGroup string, queueOffset int64, topic string, props message.Properties, rec *message.Record) (halfFields, error) {
	var f halfFields
	if topic != HalfTopic {
		return f, fmt.Errorf("%w: offset %d holds topic %s", ErrNotHalfMessage, halfOffset, topic)
	}
	var g []byte // one pass; the last occurrence wins, as in Lookup
	realTopic := false
	props.Range(func(name, value []byte) bool {
		switch string(name) {
		case message.PropertyRealTopic:
			realTopic, f.realTopic = true, value
		case message.PropertyRealQueueID:
			f.realQID = value
		case message.PropertyProducerGroup:
			g = value
		}
		return true
	})
	if !realTopic {
		return f, fmt.Errorf("%w: offset %d has no REAL_TOPIC", ErrNotHalfMessage, halfOffset)
	}
	if rec.PhysicalOffset != halfOffset {
		return f, fmt.Errorf("%w: asked %d, record says %d", ErrCommitLogOffsetMismatch, halfOffset, rec.PhysicalOffset)
	}
	if string(g) != producerGroup {
		return f, fmt.Errorf("%w: %q, half message has %q", ErrGroupMismatch, producerGroup, g)
	}
	if queueOffset != AnyQueueOffset && queueOffset != rec.QueueOffset {
		return f, fmt.Errorf("%w: %d, half message has %d", ErrQueueOffsetMismatch, queueOffset, rec.QueueOffset)
	}
	return f, nil
}

// claim takes the open transaction at q for ending, with the number of checks
// delivered for it so far (read under s.mu: the check loop counts them). It
// returns the status error of an ended one.
func (s *Service) claim(q int64, commit bool) (*entry, int, error) {
	s.mu.Lock()
	if e := s.open[q]; e != nil {
		if e.committing {
			s.mu.Unlock()
			return nil, 0, ErrAlreadyCommitted
		}
		if commit {
			e.committing = true
		} else {
			delete(s.open, q)
			s.states.set(q, stateRolledBack)
		}
		checks := e.checks
		s.mu.Unlock()
		return e, checks, nil
	}
	st, inWindow := s.states.get(q)
	_, resumed := s.resumed[q]
	s.mu.Unlock()
	if resumed {
		return nil, 0, ErrResumed
	}
	if !inWindow {
		st = s.lookupOutcome(q)
	}
	if err := st.statusError(); err != nil {
		return nil, 0, err
	}
	return nil, 0, fmt.Errorf("%w: half-queue offset %d is not a known transaction", ErrNotFound, q)
}

// commit appends the restored message of the verified half message.
func (s *Service) commit(msg *message.Message, rec message.Record) (Appended, error) {
	return s.commitFields(msg, rec, halfFieldsOf(msg.Properties))
}

// commitFields is commit with the half message's fields already read.
func (s *Service) commitFields(msg *message.Message, rec message.Record, f halfFields) (Appended, error) {
	q := rec.QueueOffset
	e, checks, err := s.claim(q, true)
	if err != nil {
		return Appended{}, err
	}
	restored, err := restore(msg, rec, e, checks, f)
	if err != nil {
		s.mu.Lock()
		e.committing = false
		s.mu.Unlock()
		return Appended{}, err
	}
	if s.opts.AtomicCommit {
		return s.commitPair(q, e, restored)
	}
	it := &e.op // a transaction commits once: its entry carries the op item
	s.ops.begin(it, q)
	app, err := s.store.Append(restored)
	if err != nil {
		s.ops.cancel(it)
		s.mu.Lock()
		e.committing = false
		s.mu.Unlock()
		return Appended{}, fmt.Errorf("txn: append committed message: %w", err)
	}
	s.noteSeen(app.PhysicalOffset)
	s.mu.Lock()
	delete(s.open, q)
	s.states.set(q, stateCommitted)
	s.mu.Unlock()
	s.ops.commit(it, app.PhysicalOffset)
	return app, nil
}

// commitPair stores the restored message of the claimed transaction e (at
// half-queue offset q) and its op marker as one unit (Options.AtomicCommit).
// The op marker's horizon is the op writer's: this commit's own marker is in
// the same unit, so it holds the horizon back for no one.
func (s *Service) commitPair(q int64, e *entry, restored *message.Message) (Appended, error) {
	pa, ok := s.store.(PairAppender)
	if !ok {
		s.mu.Lock()
		e.committing = false
		s.mu.Unlock()
		return Appended{}, fmt.Errorf("%w: AtomicCommit needs a Store that implements PairAppender", ErrInvalidOptions)
	}
	op := s.ops.opMessage(appendOpOffset(nil, q), EndCommit, s.ops.horizon())
	app, opApp, err := pa.AppendPair(restored, op)
	if err != nil {
		s.mu.Lock()
		e.committing = false
		s.mu.Unlock()
		return Appended{}, fmt.Errorf("txn: append committed message and op marker: %w", err)
	}
	s.noteSeen(app.PhysicalOffset)
	s.ops.appended(opApp)
	s.mu.Lock()
	delete(s.open, q)
	s.states.set(q, stateCommitted)
	s.mu.Unlock()
	return app, nil
}

// halfFieldsOf reads the halfFields of properties in one pass (the last
// occurrence wins, as in Lookup).
func halfFieldsOf(p message.Properties) halfFields {
	var f halfFields
	p.Range(func(name, value []byte) bool {
		switch string(name) {
		case message.PropertyRealTopic:
			f.realTopic = value
		case message.PropertyRealQueueID:
			f.realQID = value
		}
		return true
	})
	return f
}

// restore turns the half message into its committed message (spec §6.4);
// f holds msg's REAL_TOPIC and REAL_QID, checks the checks delivered for it.
func restore(msg *message.Message, rec message.Record, e *entry, checks int, f halfFields) (*message.Message, error) {
	tb, qs := f.realTopic, f.realQID
	topic := e.topic
	if string(tb) != topic {
		topic = string(tb)
	}
	qid, ok := parseDecimal(qs)
	if topic == "" || !ok || qid > math.MaxInt32 {
		return nil, fmt.Errorf("%w: bad REAL_TOPIC/REAL_QID at %d", ErrNotHalfMessage, rec.PhysicalOffset)
	}
	msg.Topic = topic
	msg.QueueID = int32(qid)
	msg.SysFlag = message.SetTransactionType(rec.SysFlag, message.TransactionCommitType)
	msg.PreparedTransactionOffset = rec.PhysicalOffset
	if checks > 0 {
		msg.SetProperty(message.PropertyTransactionCheckTimes, strconv.Itoa(checks))
	}
	return msg, nil
}

// rollback closes the open transaction at q and queues its op marker.
func (s *Service) rollback(q int64) error {
	if _, _, err := s.claim(q, false); err != nil {
		return err
	}
	s.ops.add(q, EndRollback, math.MaxInt64)
	if s.opts.AtomicCommit {
		// A replicated group's rollback is answered once its op marker is stored, as a
		// commit is: a new leader never checks back a transaction its producer ended.
		return s.ops.flush()
	}
	return nil
}

// Resume puts a discarded half message back to be checked again
// (RESUME_CHECK_HALF_MESSAGE): offset is the commitlog offset of the
// discarded half message or of its copy in DiscardTopic. It appends a new
// half message (same body and properties, check count 0, PropertyOrigin =
// the discarded one) and returns it as an open transaction; the discarded
// one is marked resumed, so a late answer for it gets ErrResumed. It fails
// with ErrNotDiscarded for a half message that is not discarded.
func (s *Service) Resume(offset int64) (OpenTransaction, error) {
	if err := s.enter(); err != nil {
		return OpenTransaction{}, err
	}
	defer s.calls.exit()
	msg, rec, err := s.store.Read(offset)
	if err != nil {
		return OpenTransaction{}, fmt.Errorf("%w: offset %d: %w", ErrNotFound, offset, err)
	}
	if msg.Topic == DiscardTopic {
		v, _ := msg.Properties.Lookup(PropertyOrigin)
		orig, ok := parseDecimal(v)
		if !ok {
			return OpenTransaction{}, fmt.Errorf("%w: discarded copy at %d names no origin", ErrNotHalfMessage, offset)
		}
		if msg, rec, err = s.store.Read(orig); err != nil {
			return OpenTransaction{}, fmt.Errorf("%w: origin %d: %w", ErrNotFound, orig, err)
		}
	}
	if msg.Topic != HalfTopic {
		return OpenTransaction{}, fmt.Errorf("%w: offset %d holds topic %s", ErrNotHalfMessage, offset, msg.Topic)
	}
	q := rec.QueueOffset
	group, _ := msg.Properties.Get(message.PropertyProducerGroup)
	topic, _ := msg.Properties.Get(message.PropertyRealTopic)
	qs, _ := msg.Properties.Lookup(message.PropertyRealQueueID)
	qid, ok := parseDecimal(qs)
	if topic == "" || group == "" || !ok || qid > math.MaxInt32 {
		return OpenTransaction{}, fmt.Errorf("%w: offset %d", ErrNotHalfMessage, offset)
	}

	// Claim the discarded state.
	s.mu.Lock()
	st, inWindow := s.states.get(q)
	if !inWindow {
		if _, dup := s.resumed[q]; dup {
			s.mu.Unlock()
			return OpenTransaction{}, fmt.Errorf("%w: already resumed", ErrNotDiscarded)
		}
		s.resumed[q] = struct{}{}
		s.mu.Unlock()
		st = s.lookupOutcome(q)
		s.mu.Lock()
	}
	if st != stateDiscarded {
		if !inWindow {
			delete(s.resumed, q)
		}
		s.mu.Unlock()
		return OpenTransaction{}, fmt.Errorf("%w: half-queue offset %d", ErrNotDiscarded, q)
	}
	s.states.set(q, stateResumed)
	s.mu.Unlock()

	half := msg
	half.Topic = HalfTopic
	half.QueueID = 0
	half.PreparedTransactionOffset = 0
	half.DeleteProperty(message.PropertyTransactionCheckTimes)
	half.SetProperty(PropertyOrigin, strconv.FormatInt(rec.PhysicalOffset, 10))
	e := &entry{group: group, topic: topic, queueID: int32(qid), transactionID: msg.UniqKey(),
		resumedFrom: rec.PhysicalOffset, immunity: immunityOf(half.Properties)}
	if _, err := s.appendHalf(half, e); err != nil {
		s.mu.Lock()
		if inWindow {
			s.states.set(q, stateDiscarded)
		} else {
			delete(s.resumed, q)
		}
		s.mu.Unlock()
		return OpenTransaction{}, err
	}
	s.ops.add(q, EndResume, math.MaxInt64)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.describeLocked(e, s.opts.Now()), nil
}

// Open lists the open transactions, oldest first.
func (s *Service) Open() []OpenTransaction {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OpenTransaction, 0, len(s.open))
	for _, e := range s.open {
		out = append(out, s.describeLocked(e, now))
	}
	slices.SortFunc(out, func(a, b OpenTransaction) int { return cmpInt64(a.QueueOffset, b.QueueOffset) })
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Service) describeLocked(e *entry, now time.Time) OpenTransaction {
	o := OpenTransaction{
		HalfOffset:     e.halfOffset,
		QueueOffset:    e.queueOffset,
		ProducerGroup:  e.group,
		Topic:          e.topic,
		QueueID:        e.queueID,
		TransactionID:  e.transactionID,
		StoreTimestamp: e.storeTimestamp,
		Age:            now.Sub(time.UnixMilli(e.storeTimestamp)),
		CheckTimes:     e.checks,
		LastResult:     e.lastResult,
		ResumedFrom:    e.resumedFrom,
	}
	if e.lastCheck != 0 {
		o.LastCheck = time.UnixMilli(e.lastCheck)
	}
	return o
}

// trimLocked moves the window's base to the oldest offset that is open,
// being prepared, or waiting for its op marker.
func (s *Service) trimLocked() {
	base := min(s.halfNext, s.ops.minPending())
	for q := range s.open {
		base = min(base, q)
	}
	for _, b := range s.preparing {
		base = min(base, b.half)
	}
	s.states.trim(base)
}

// captureLocked returns the progress as of now (see progress.go).
func (s *Service) captureLocked() progress {
	p := progress{halfWatermark: s.halfNext, opWatermark: s.ops.next.Load(), horizon: s.ops.horizon()}
	for q, e := range s.open {
		p.halfWatermark = min(p.halfWatermark, q)
		p.opWatermark = min(p.opWatermark, e.opBound)
	}
	for _, b := range s.preparing {
		p.halfWatermark = min(p.halfWatermark, b.half)
		p.opWatermark = min(p.opWatermark, b.op)
	}
	return p
}

// Flush waits until every op marker queued so far is appended to the store
// (op markers are written asynchronously, batched). It returns the error of
// the last failed attempt when the store refuses them.
func (s *Service) Flush() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.calls.exit()
	return s.ops.flush()
}

// Close stops the check loop, waits for calls in flight, writes the op
// markers still queued, and saves the progress and check counts. It returns
// the first error met (a failed background round included); later calls
// return ErrClosed.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	started := s.checker != nil
	s.mu.Unlock()
	s.cancel()
	close(s.quit)
	if started {
		<-s.done
	}
	s.calls.close()
	err := s.ops.close()
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	if s.opts.Dir != "" {
		if perr := writeProgress(s.opts.FS, s.opts.Dir, s.captured); err == nil {
			err = perr
		}
		if cerr := s.checks.close(); err == nil {
			err = cerr
		}
	}
	s.errMu.Lock()
	if err == nil {
		err = s.loopErr
	}
	s.errMu.Unlock()
	return err
}

// bytesString views b as a string without copying; the string must not
// outlive b's memory (fmt copies it when it formats an error).
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
