// Stubs for all 69 methods of the v2.0.10 rpc.IClientRPCService interface
// (mechanically derived from the interface declaration).

package iotdbtest

import (
	"context"

	"github.com/apache/iotdb-client-go/v2/common"
	"github.com/apache/iotdb-client-go/v2/rpc"
)

// unsupported implements every method of rpc.IClientRPCService with an
// answer of status 300 "unsupported by iotdbtest: <method>" (never a nil
// interface, never a Go error). conn embeds it and overrides what the
// double implements.
type unsupported struct{}

func unsupportedStatus(method string) *common.TSStatus {
	return status(codeUnsupported, "unsupported by iotdbtest: "+method)
}

var _ rpc.IClientRPCService = (*conn)(nil)

func (unsupported) ExecuteQueryStatementV2(_ context.Context, _ *rpc.TSExecuteStatementReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeQueryStatementV2")}, nil
}

func (unsupported) ExecuteUpdateStatementV2(_ context.Context, _ *rpc.TSExecuteStatementReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeUpdateStatementV2")}, nil
}

func (unsupported) ExecuteStatementV2(_ context.Context, _ *rpc.TSExecuteStatementReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeStatementV2")}, nil
}

func (unsupported) ExecuteRawDataQueryV2(_ context.Context, _ *rpc.TSRawDataQueryReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeRawDataQueryV2")}, nil
}

func (unsupported) ExecuteLastDataQueryV2(_ context.Context, _ *rpc.TSLastDataQueryReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeLastDataQueryV2")}, nil
}

func (unsupported) ExecuteFastLastDataQueryForOnePrefixPath(_ context.Context, _ *rpc.TSFastLastDataQueryForOnePrefixPathReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeFastLastDataQueryForOnePrefixPath")}, nil
}

func (unsupported) ExecuteFastLastDataQueryForOneDeviceV2(_ context.Context, _ *rpc.TSFastLastDataQueryForOneDeviceReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeFastLastDataQueryForOneDeviceV2")}, nil
}

func (unsupported) ExecuteAggregationQueryV2(_ context.Context, _ *rpc.TSAggregationQueryReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeAggregationQueryV2")}, nil
}

func (unsupported) FetchResultsV2(_ context.Context, _ *rpc.TSFetchResultsReq) (*rpc.TSFetchResultsResp, error) {
	return &rpc.TSFetchResultsResp{Status: unsupportedStatus("fetchResultsV2")}, nil
}

func (unsupported) OpenSession(_ context.Context, _ *rpc.TSOpenSessionReq) (*rpc.TSOpenSessionResp, error) {
	return &rpc.TSOpenSessionResp{Status: unsupportedStatus("openSession")}, nil
}

func (unsupported) CloseSession(_ context.Context, _ *rpc.TSCloseSessionReq) (*common.TSStatus, error) {
	return unsupportedStatus("closeSession"), nil
}

func (unsupported) ExecuteStatement(_ context.Context, _ *rpc.TSExecuteStatementReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeStatement")}, nil
}

func (unsupported) ExecuteBatchStatement(_ context.Context, _ *rpc.TSExecuteBatchStatementReq) (*common.TSStatus, error) {
	return unsupportedStatus("executeBatchStatement"), nil
}

func (unsupported) ExecuteQueryStatement(_ context.Context, _ *rpc.TSExecuteStatementReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeQueryStatement")}, nil
}

func (unsupported) ExecuteUpdateStatement(_ context.Context, _ *rpc.TSExecuteStatementReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeUpdateStatement")}, nil
}

func (unsupported) FetchResults(_ context.Context, _ *rpc.TSFetchResultsReq) (*rpc.TSFetchResultsResp, error) {
	return &rpc.TSFetchResultsResp{Status: unsupportedStatus("fetchResults")}, nil
}

func (unsupported) FetchMetadata(_ context.Context, _ *rpc.TSFetchMetadataReq) (*rpc.TSFetchMetadataResp, error) {
	return &rpc.TSFetchMetadataResp{Status: unsupportedStatus("fetchMetadata")}, nil
}

func (unsupported) CancelOperation(_ context.Context, _ *rpc.TSCancelOperationReq) (*common.TSStatus, error) {
	return unsupportedStatus("cancelOperation"), nil
}

func (unsupported) CloseOperation(_ context.Context, _ *rpc.TSCloseOperationReq) (*common.TSStatus, error) {
	return unsupportedStatus("closeOperation"), nil
}

func (unsupported) PrepareStatement(_ context.Context, _ *rpc.TSPrepareReq) (*rpc.TSPrepareResp, error) {
	return &rpc.TSPrepareResp{Status: unsupportedStatus("prepareStatement")}, nil
}

func (unsupported) ExecutePreparedStatement(_ context.Context, _ *rpc.TSExecutePreparedReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executePreparedStatement")}, nil
}

func (unsupported) DeallocatePreparedStatement(_ context.Context, _ *rpc.TSDeallocatePreparedReq) (*common.TSStatus, error) {
	return unsupportedStatus("deallocatePreparedStatement"), nil
}

func (unsupported) GetTimeZone(_ context.Context, _ int64) (*rpc.TSGetTimeZoneResp, error) {
	return &rpc.TSGetTimeZoneResp{Status: unsupportedStatus("getTimeZone")}, nil
}

func (unsupported) SetTimeZone(_ context.Context, _ *rpc.TSSetTimeZoneReq) (*common.TSStatus, error) {
	return unsupportedStatus("setTimeZone"), nil
}

func (unsupported) GetProperties(_ context.Context) (*rpc.ServerProperties, error) {
	return &rpc.ServerProperties{Version: "iotdbtest", SupportedTimeAggregationOperations: []string{}, TimestampPrecision: "ms"}, nil
}

func (unsupported) SetStorageGroup(_ context.Context, _ int64, _ string) (*common.TSStatus, error) {
	return unsupportedStatus("setStorageGroup"), nil
}

func (unsupported) CreateTimeseries(_ context.Context, _ *rpc.TSCreateTimeseriesReq) (*common.TSStatus, error) {
	return unsupportedStatus("createTimeseries"), nil
}

func (unsupported) CreateAlignedTimeseries(_ context.Context, _ *rpc.TSCreateAlignedTimeseriesReq) (*common.TSStatus, error) {
	return unsupportedStatus("createAlignedTimeseries"), nil
}

func (unsupported) CreateMultiTimeseries(_ context.Context, _ *rpc.TSCreateMultiTimeseriesReq) (*common.TSStatus, error) {
	return unsupportedStatus("createMultiTimeseries"), nil
}

func (unsupported) DeleteTimeseries(_ context.Context, _ int64, _ []string) (*common.TSStatus, error) {
	return unsupportedStatus("deleteTimeseries"), nil
}

func (unsupported) DeleteStorageGroups(_ context.Context, _ int64, _ []string) (*common.TSStatus, error) {
	return unsupportedStatus("deleteStorageGroups"), nil
}

func (unsupported) InsertRecord(_ context.Context, _ *rpc.TSInsertRecordReq) (*common.TSStatus, error) {
	return unsupportedStatus("insertRecord"), nil
}

func (unsupported) InsertStringRecord(_ context.Context, _ *rpc.TSInsertStringRecordReq) (*common.TSStatus, error) {
	return unsupportedStatus("insertStringRecord"), nil
}

func (unsupported) InsertTablet(_ context.Context, _ *rpc.TSInsertTabletReq) (*common.TSStatus, error) {
	return unsupportedStatus("insertTablet"), nil
}

func (unsupported) InsertTablets(_ context.Context, _ *rpc.TSInsertTabletsReq) (*common.TSStatus, error) {
	return unsupportedStatus("insertTablets"), nil
}

func (unsupported) InsertRecords(_ context.Context, _ *rpc.TSInsertRecordsReq) (*common.TSStatus, error) {
	return unsupportedStatus("insertRecords"), nil
}

func (unsupported) InsertRecordsOfOneDevice(_ context.Context, _ *rpc.TSInsertRecordsOfOneDeviceReq) (*common.TSStatus, error) {
	return unsupportedStatus("insertRecordsOfOneDevice"), nil
}

func (unsupported) InsertStringRecordsOfOneDevice(_ context.Context, _ *rpc.TSInsertStringRecordsOfOneDeviceReq) (*common.TSStatus, error) {
	return unsupportedStatus("insertStringRecordsOfOneDevice"), nil
}

func (unsupported) InsertStringRecords(_ context.Context, _ *rpc.TSInsertStringRecordsReq) (*common.TSStatus, error) {
	return unsupportedStatus("insertStringRecords"), nil
}

func (unsupported) TestInsertTablet(_ context.Context, _ *rpc.TSInsertTabletReq) (*common.TSStatus, error) {
	return unsupportedStatus("testInsertTablet"), nil
}

func (unsupported) TestInsertTablets(_ context.Context, _ *rpc.TSInsertTabletsReq) (*common.TSStatus, error) {
	return unsupportedStatus("testInsertTablets"), nil
}

func (unsupported) TestInsertRecord(_ context.Context, _ *rpc.TSInsertRecordReq) (*common.TSStatus, error) {
	return unsupportedStatus("testInsertRecord"), nil
}

func (unsupported) TestInsertStringRecord(_ context.Context, _ *rpc.TSInsertStringRecordReq) (*common.TSStatus, error) {
	return unsupportedStatus("testInsertStringRecord"), nil
}

func (unsupported) TestInsertRecords(_ context.Context, _ *rpc.TSInsertRecordsReq) (*common.TSStatus, error) {
	return unsupportedStatus("testInsertRecords"), nil
}

func (unsupported) TestInsertRecordsOfOneDevice(_ context.Context, _ *rpc.TSInsertRecordsOfOneDeviceReq) (*common.TSStatus, error) {
	return unsupportedStatus("testInsertRecordsOfOneDevice"), nil
}

func (unsupported) TestInsertStringRecords(_ context.Context, _ *rpc.TSInsertStringRecordsReq) (*common.TSStatus, error) {
	return unsupportedStatus("testInsertStringRecords"), nil
}

func (unsupported) DeleteData(_ context.Context, _ *rpc.TSDeleteDataReq) (*common.TSStatus, error) {
	return unsupportedStatus("deleteData"), nil
}

func (unsupported) ExecuteRawDataQuery(_ context.Context, _ *rpc.TSRawDataQueryReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeRawDataQuery")}, nil
}

func (unsupported) ExecuteLastDataQuery(_ context.Context, _ *rpc.TSLastDataQueryReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeLastDataQuery")}, nil
}

func (unsupported) ExecuteAggregationQuery(_ context.Context, _ *rpc.TSAggregationQueryReq) (*rpc.TSExecuteStatementResp, error) {
	return &rpc.TSExecuteStatementResp{Status: unsupportedStatus("executeAggregationQuery")}, nil
}

func (unsupported) RequestStatementId(_ context.Context, _ int64) (int64, error) {
	return -1, nil
}

func (unsupported) CreateSchemaTemplate(_ context.Context, _ *rpc.TSCreateSchemaTemplateReq) (*common.TSStatus, error) {
	return unsupportedStatus("createSchemaTemplate"), nil
}

func (unsupported) AppendSchemaTemplate(_ context.Context, _ *rpc.TSAppendSchemaTemplateReq) (*common.TSStatus, error) {
	return unsupportedStatus("appendSchemaTemplate"), nil
}

func (unsupported) PruneSchemaTemplate(_ context.Context, _ *rpc.TSPruneSchemaTemplateReq) (*common.TSStatus, error) {
	return unsupportedStatus("pruneSchemaTemplate"), nil
}

func (unsupported) QuerySchemaTemplate(_ context.Context, _ *rpc.TSQueryTemplateReq) (*rpc.TSQueryTemplateResp, error) {
	return &rpc.TSQueryTemplateResp{Status: unsupportedStatus("querySchemaTemplate")}, nil
}

func (unsupported) ShowConfigurationTemplate(_ context.Context) (*common.TShowConfigurationTemplateResp, error) {
	return &common.TShowConfigurationTemplateResp{Status: unsupportedStatus("showConfigurationTemplate")}, nil
}

func (unsupported) ShowConfiguration(_ context.Context, _ int32) (*common.TShowConfigurationResp, error) {
	return &common.TShowConfigurationResp{Status: unsupportedStatus("showConfiguration")}, nil
}

func (unsupported) SetSchemaTemplate(_ context.Context, _ *rpc.TSSetSchemaTemplateReq) (*common.TSStatus, error) {
	return unsupportedStatus("setSchemaTemplate"), nil
}

func (unsupported) UnsetSchemaTemplate(_ context.Context, _ *rpc.TSUnsetSchemaTemplateReq) (*common.TSStatus, error) {
	return unsupportedStatus("unsetSchemaTemplate"), nil
}

func (unsupported) DropSchemaTemplate(_ context.Context, _ *rpc.TSDropSchemaTemplateReq) (*common.TSStatus, error) {
	return unsupportedStatus("dropSchemaTemplate"), nil
}

func (unsupported) CreateTimeseriesUsingSchemaTemplate(_ context.Context, _ *rpc.TCreateTimeseriesUsingSchemaTemplateReq) (*common.TSStatus, error) {
	return unsupportedStatus("createTimeseriesUsingSchemaTemplate"), nil
}

func (unsupported) Handshake(_ context.Context, _ *rpc.TSyncIdentityInfo) (*common.TSStatus, error) {
	return unsupportedStatus("handshake"), nil
}

func (unsupported) SendPipeData(_ context.Context, _ []byte) (*common.TSStatus, error) {
	return unsupportedStatus("sendPipeData"), nil
}

func (unsupported) SendFile(_ context.Context, _ *rpc.TSyncTransportMetaInfo, _ []byte) (*common.TSStatus, error) {
	return unsupportedStatus("sendFile"), nil
}

func (unsupported) PipeTransfer(_ context.Context, _ *rpc.TPipeTransferReq) (*rpc.TPipeTransferResp, error) {
	return &rpc.TPipeTransferResp{Status: unsupportedStatus("pipeTransfer")}, nil
}

func (unsupported) PipeSubscribe(_ context.Context, _ *rpc.TPipeSubscribeReq) (*rpc.TPipeSubscribeResp, error) {
	return &rpc.TPipeSubscribeResp{Status: unsupportedStatus("pipeSubscribe")}, nil
}

func (unsupported) GetBackupConfiguration(_ context.Context) (*rpc.TSBackupConfigurationResp, error) {
	return &rpc.TSBackupConfigurationResp{Status: unsupportedStatus("getBackupConfiguration")}, nil
}

func (unsupported) FetchAllConnectionsInfo(_ context.Context) (*rpc.TSConnectionInfoResp, error) {
	return &rpc.TSConnectionInfoResp{}, nil
}

func (unsupported) TestConnectionEmptyRPC(_ context.Context) (*common.TSStatus, error) {
	return unsupportedStatus("testConnectionEmptyRPC"), nil
}
