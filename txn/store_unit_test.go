package txn_test

import "github.com/mqstore/mqstore/consumequeue"

type consumequeueUnit = consumequeue.Unit
