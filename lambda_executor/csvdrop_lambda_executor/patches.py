"""LocalStack start-up hooks that make the local Lambda service fit a small machine (entry points in
pyproject.toml): async invocations capped per function (async_pool.py) and Lambda logs delivered in batches
(log_batching.py). Both replace one LocalStack internal each, pinned by stack/localstack-constraints.txt;
tests/integration/test_lambda_executor.py checks what they promise against the real LocalStack.
"""

from __future__ import annotations

from localstack.runtime import hooks

from csvdrop_lambda_executor.async_pool import BoundedExecutor, async_concurrency
from csvdrop_lambda_executor.log_batching import batched_log_loop


@hooks.on_infra_start()
def csvdrop_cap_async_invocations() -> None:
    cap = async_concurrency()
    if cap is None:
        return
    from localstack.services.lambda_.invocation.event_manager import Poller

    original_init = Poller.__init__

    def init_with_capped_pool(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        prefix = self.invoker_pool._thread_name_prefix
        self.invoker_pool.shutdown(wait=False)  # never used: its threads start lazily
        self.invoker_pool = BoundedExecutor(cap, thread_name_prefix=prefix)

    Poller.__init__ = init_with_capped_pool


@hooks.on_infra_start()
def csvdrop_batch_lambda_logs() -> None:
    from localstack.aws.connect import connect_to
    from localstack.services.lambda_.invocation.logs import QUEUE_SHUTDOWN, LogHandler
    from localstack.utils.aws.client_types import ServicePrincipal

    def run_log_loop(self, *args, **kwargs) -> None:
        logs_client = connect_to.with_assumed_role(
            region_name=self.region, role_arn=self.role_arn, service_principal=ServicePrincipal.lambda_
        ).logs
        batched_log_loop(self.log_queue, self._shutdown_event, QUEUE_SHUTDOWN, logs_client, self.region)

    LogHandler.run_log_loop = run_log_loop
