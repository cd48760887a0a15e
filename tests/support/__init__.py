"""What the tests share: builders of events, batches and programs, the data path run in
process, API Gateway events for the handlers, a provisioned lake on moto and a reader of it.
Imported as modules (`from tests.support.builders import make_event`); conftest files only
declare fixtures."""
