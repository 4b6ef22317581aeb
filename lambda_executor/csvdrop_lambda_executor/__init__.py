"""LocalStack Lambda runtime executor plugin ``csvdrop-local``: Python functions run as local processes.

Select it with ``LAMBDA_RUNTIME_EXECUTOR=csvdrop-local`` in LocalStack's environment.
Importing this module must stay cheap and must not import LocalStack internals eagerly.
"""

from plux import Plugin


class CsvdropLocalExecutorPlugin(Plugin):
    namespace = "localstack.lambda.runtime_executor"
    name = "csvdrop-local"

    def load(self, *args, **kwargs):
        from csvdrop_lambda_executor.executor import LocalProcessRuntimeExecutor

        return LocalProcessRuntimeExecutor
